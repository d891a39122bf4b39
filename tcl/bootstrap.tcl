# bootstrap.tcl: the session's queue processor (tcl/README.md, "Processor rules").
#
# Innovus sources it with -init, the stand-in or a plain tclsh runs it as a script; either way it
# serves <run_dir>/queue until <run_dir>/session/stop appears, then exits 0. Everything lives in
# ::spilot: skills get every global command of this interpreter, and none of this.

namespace eval ::spilot {
    variable cur        ;# the running skill: id args metrics reports deadline timedOut busy
    variable aliased    ;# child -> dict of the tool commands aliased into it
    array set aliased {}
    # S(done): "<id>.json" -> status of its ack ("" until read); S(seen): queue files known to
    # be acked; S(waiters): request id -> the socket channels waiting for its ack.
    variable S
    array set S [list script [file normalize [info script]] started [clock microseconds] \
        done {} seen {} waiters {} requestsDone 0 busy 0 again 0 stopAsked 0 server {} \
        spares {} dropped {} childSeq 0 maxBytes 65536 idRE {^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$} \
        keys {schema_version request_id script args timeout_s created_ts}]
    set S(run) [file dirname [file dirname $S(script)]]
}
source [file join [file dirname [info script]] lib json.tcl]
source [file join [file dirname [info script]] lib skills.tcl]

proc ::spilot::Log {message} {
    set message [Redact $message]
    catch {puts stdout "\[spilot\] [clock format [clock seconds] -format %H:%M:%S] $message"}
}

# The values of the variables config.json names as secret never reach an ack or the log.
set ::spilot::secretMap {}
proc ::spilot::Redact {text} { string map $::spilot::secretMap $text }

proc ::spilot::SetSecrets {names} {
    set pairs {}
    foreach name $names {
        if {[info exists ::env($name)] && [string length $::env($name)] >= 3} {
            lappend pairs [list [string length $::env($name)] $::env($name)]
        }
    }
    # Longest first: a value containing another is replaced whole.
    set map {}
    foreach pair [lsort -integer -decreasing -index 0 $pairs] {
        if {[lindex $pair 1] ni $map} { lappend map [lindex $pair 1] *** }
    }
    set ::spilot::secretMap $map
}

# Timers and socket handlers run through here: a fault is logged and the processor serves on.
proc ::spilot::Safe {command} {
    if {[catch {uplevel #0 $command} message options]} {
        Log "internal error: [dict get $options -errorinfo]"
    }
}

proc ::spilot::Now {} { format %.6f [expr {[clock microseconds] / 1e6}] }

# Joined as text: file join would take a name starting with ~ for a home folder.
proc ::spilot::Path {folder {name ""}} {
    return "$::spilot::S(run)/$folder[expr {$name eq "" ? "" : "/$name"}]"
}

proc ::spilot::TempWrite {path text} {
    set f [open [set tmp "[file dirname $path]/.[file tail $path].[pid].tmp"] w]
    try {
        fconfigure $f -encoding utf-8 -translation lf
        puts -nonewline $f $text
    } finally {
        close $f
    }
    return $tmp
}

proc ::spilot::Write {path text} { file rename -force [TempWrite $path $text] $path }

# Exactly once: a hard link fails on an existing name where a rename would replace it (the
# harness may have acked the request meanwhile: SESSION_LOST, TIMEOUT). 0 when it existed.
proc ::spilot::WriteNew {path text} {
    if {[file exists $path]} { return 0 }
    set tmp [TempWrite $path $text]
    try {
        # Without hard links (some file systems): check, then rename without -force.
        if {[catch {file link -hard $path $tmp}]
                && ([file exists $path] || [catch {file rename $tmp $path}])} { return 0 }
        return 1
    } finally {
        file delete $tmp
    }
}

proc ::spilot::Heartbeat {} {
    Write [Path session heartbeat] \
        [json::object [list ts [Now] pid [pid] requests_done $::spilot::S(requestsDone)]]
}

proc ::spilot::State {state {id ""}} {
    Write [Path session state.json] [json::object [list state [json::str $state] \
        request_id [expr {$id eq "" ? "null" : [json::str $id]}] \
        requests_done $::spilot::S(requestsDone) ts [Now]]]
}

proc ::spilot::ReadConfig {} {
    set config {}
    if {[file exists [set path [Path session config.json]]] && [catch {
        set f [open $path r]
        fconfigure $f -encoding utf-8
        set text [read $f]
        close $f
        dict size [set config [json::parse $text]]
    } message]} {
        Log "session/config.json is unreadable ($message): using the defaults"
        set config {}
    }
    set result [dict create heartbeat_interval_s 1.0 poll_interval_s 0.5 socket 1 \
        owner_pid "" owner_host ""]
    dict for {key value} $config {
        if {$key eq "owner_pid" && [string is integer -strict $value]} {
            dict set result owner_pid $value
        } elseif {$key eq "owner_host"} {
            dict set result owner_host $value
        } elseif {$key in {heartbeat_interval_s poll_interval_s}
                && [string is double -strict $value] && $value > 0 && $value < 86400} {
            dict set result $key $value
        } elseif {$key eq "socket" && [string is boolean -strict $value]} {
            dict set result socket [string is true $value]
        } elseif {$key eq "secret_env"} {
            SetSecrets $value
        } elseif {$key ne "schema_version" || $value ne "1"} {
            Log "session/config.json: ignored $key = $value"
        }
    }
    return $result
}

proc ::spilot::Start {} {
    variable S
    catch {fconfigure stdout -buffering line}
    set config [ReadConfig]
    # Timers of 10 ms at least: no configuration turns them into a busy loop.
    set S(hbMs) [expr {max(10, round(1000 * [dict get $config heartbeat_interval_s]))}]
    set S(pollMs) [expr {max(10, round(1000 * [dict get $config poll_interval_s]))}]
    # A harness on this host that dies (SIGKILL) cannot stop us: we notice and stop ourselves.
    set S(owner) ""
    if {[dict get $config owner_pid] ne "" && [dict get $config owner_host] eq [info hostname]
            && [file isdirectory /proc/self]} {
        set S(owner) [dict get $config owner_pid]
    }
    foreach folder {session queue queue/done ack reports work} { file mkdir [Path $folder] }
    set S(scriptsDir) [Resolve [Path scripts]]
    set S(bootstrap) [Resolve $S(script)]
    foreach name [glob -nocomplain -tails -directory [Path ack] *.json] {
        dict set S(done) $name ""
        dict set S(seen) [Path queue $name] 1
    }
    set port null
    if {[dict get $config socket]
            && [catch {socket -server ::spilot::Accept -myaddr 127.0.0.1 0} S(server)]} {
        Log "no wake-up socket ($S(server)): the directory poll alone serves requests"
        set S(server) ""
    } elseif {$S(server) ne ""} {
        Write [Path session port] [set port [lindex [fconfigure $S(server) -sockname] 2]]
    }
    set tool "tclsh [info patchlevel]"
    if {[llength [info commands ::getVersion]]} { catch {set tool [::getVersion]} }
    Heartbeat
    Write [Path session ready] [json::object [list schema_version 1 pid [pid] \
        tcl_version [json::str [info patchlevel]] tool_version [json::str $tool] port $port \
        started_ts [format %.6f [expr {$S(started) / 1e6}]] json [json::str [json::backend]]]]
    State ready
    Log "ready in $S(run): port $port, json [json::backend],\
        [dict size $S(done)] request(s) acked before"
    after $S(hbMs) {::spilot::Safe ::spilot::Tick}
    after $S(pollMs) {::spilot::Safe ::spilot::Poll}
    after idle {::spilot::Safe ::spilot::Drain}
}

proc ::spilot::Tick {} {
    after $::spilot::S(hbMs) {::spilot::Safe ::spilot::Tick}
    Heartbeat
    CheckStop
}

proc ::spilot::Poll {} {
    after $::spilot::S(pollMs) {::spilot::Safe ::spilot::Poll}
    Drain
}

# While a skill runs, the stop waits for its ack (Drain calls again).
proc ::spilot::CheckStop {} {
    variable S
    if {!$S(stopAsked) && [file exists [Path session stop]]} { set S(stopAsked) 1 }
    if {!$S(stopAsked) && $S(owner) ne "" && ![file exists /proc/$S(owner)]} {
        Log "the harness (pid $S(owner)) is gone: stopping"
        set S(stopAsked) 1
    }
    if {$S(stopAsked) && !$S(busy) && ![info exists ::spilot::forever]} {
        State stopped
        Log "stopped by session/stop after $S(requestsDone) request(s)"
        set ::spilot::forever stopped
    }
}

# -- the wake-up socket -----------------------------------------------------------------------

proc ::spilot::Accept {channel address port} {
    if {[catch {
        fconfigure $channel -blocking 0 -buffering line -translation lf -encoding utf-8
        fileevent $channel readable [list ::spilot::Safe [list ::spilot::OnLine $channel]]
    } message]} {
        Log "dropped a client: $message"
        catch {close $channel}
    }
}

proc ::spilot::OnLine {channel} {
    variable S
    while {![set failed [catch {gets $channel line} n]] && $n >= 0} {
        if {[set line [string trim $line]] eq "PING"} {
            Send $channel PONG
        } elseif {[regexp $S(idRE) $line]} {
            dict lappend S(waiters) $line $channel
        }
    }
    # Gone, failing, or a line too long to be a request id: no client of ours.
    if {$failed || [catch {expr {[eof $channel] || [chan pending input $channel] > 4096}} drop]
            || $drop} {
        CloseClient $channel
    }
    CheckStop
    Drain
}

proc ::spilot::Send {channel text} {
    if {[catch {puts $channel $text}]} { CloseClient $channel }
}

proc ::spilot::CloseClient {channel} {
    variable S
    catch {close $channel}
    dict for {id channels} $S(waiters) {
        set rest [lsearch -all -inline -exact -not $channels $channel]
        if {[llength $rest]} { dict set S(waiters) $id $rest } else { dict unset S(waiters) $id }
    }
}

# ACK to whoever waits for this id, NOACK when there is no such request; else they wait on.
proc ::spilot::Answer {id} {
    variable S
    if {![dict exists $S(waiters) $id]} { return }
    if {![dict exists $S(done) $id.json] && [file exists [Path ack $id.json]]} {
        dict set S(done) $id.json ""
    }
    if {[dict exists $S(done) $id.json]} {
        if {[set status [dict get $S(done) $id.json]] eq ""} {
            # Acked before this process started, or by the harness.
            set status UNKNOWN
            catch {
                set f [open [Path ack $id.json] r]
                dict set S(done) $id.json [set status [dict get [json::parse [read $f]] status]]
            }
            catch {close $f}
        }
        set reply "ACK $id $status"
    } elseif {![file exists [Path queue $id.json]]} {
        set reply "NOACK $id"
    } else {
        return
    }
    foreach channel [dict get $S(waiters) $id] { Send $channel $reply }
    dict unset S(waiters) $id
}

# -- the queue --------------------------------------------------------------------------------

proc ::spilot::Drain {} {
    variable S
    if {$S(busy)} {
        # A skill entered the event loop (update, vwait): its request finishes first.
        set S(again) 1
        foreach id [dict keys $S(waiters)] { Answer $id }
        return
    }
    set S(busy) 1
    try {
        set S(again) 1
        while {$S(again) && !$S(stopAsked)} {
            set S(again) 0
            foreach item [Pending] {
                RunOne {*}$item
                if {[file exists [Path session stop]]} {
                    set S(stopAsked) 1
                    break
                }
            }
        }
    } finally {
        set S(busy) 0
    }
    foreach id [dict keys $S(waiters)] { Answer $id }
    CheckStop
    if {[llength $S(spares)] < 2 || [llength $S(dropped)]} {
        after idle {::spilot::Safe ::spilot::Prepare}
    }
}

# Pending requests as {created_ts id loaded}, oldest first; unreadable ones sort as 0: first.
proc ::spilot::Pending {} {
    variable S
    # The queue keeps every request the session ever ran: one dict lookup per file, on paths
    # as glob gives them (-tails would double the cost of the listing).
    set items {}
    foreach path [lmap path [glob -nocomplain -directory [Path queue] *.json] {
        if {[dict exists $S(seen) $path]} continue
        set path
    }] {
        set name [file tail $path]
        if {[string index $name 0] eq "." || [file exists [Path ack $name]]} {
            dict set S(seen) $path 1
            dict set S(done) $name ""
            continue
        }
        set id [string range $name 0 end-5]
        set loaded [list [catch {Load $id $path} value options] $value $options]
        set created 0
        if {![lindex $loaded 0] && [dict exists $value created_ts]} {
            set ts [dict get $value created_ts]
            if {[string is double -strict $ts] && abs($ts) < 1e18} { set created $ts }
        }
        lappend items [list $created $id $loaded]
    }
    return [lsort -real -index 0 [lsort -index 1 $items]]
}

proc ::spilot::Refuse {type message} {
    return -code error -errorcode [list SPILOT REFUSE $type] $message
}

# The request as a dict, or a Refuse error; the size is checked before anything is read.
proc ::spilot::Load {id path} {
    variable S
    if {![regexp $S(idRE) $id]} {
        Refuse BAD_REQUEST "request id \"$id\" is not a safe name\
            (letters, digits and ._-, at most 128)"
    }
    if {![file isfile $path]} { Refuse BAD_REQUEST "queue/$id.json is not a regular file" }
    if {[set size [file size $path]] > $S(maxBytes)} {
        Refuse BAD_REQUEST "request is $size bytes; the limit is $S(maxBytes)"
    }
    if {[catch {
        set f [open $path {RDONLY NONBLOCK}]
        fconfigure $f -encoding utf-8 -translation lf
        set text [read $f [expr {$S(maxBytes) + 1}]]
    } message]} {
        catch {close $f}
        Refuse BAD_REQUEST "cannot read queue/$id.json: $message"
    }
    close $f
    if {[catch {json::parse $text} request]} { Refuse BAD_REQUEST $request }
    # Parsed values carry no types: an array or a string could pass for a dict.
    if {![regexp {^[ \t\r\n]*\{} $text]} { Refuse BAD_REQUEST "the request is not a JSON object" }
    return $request
}

proc ::spilot::Validate {id loaded} {
    lassign $loaded code request options
    if {$code} { return -options $options $request }
    foreach key [dict keys $request] {
        if {$key ni $::spilot::S(keys)} { Refuse BAD_REQUEST "$key: extra fields are not allowed" }
    }
    if {[dict exists $request schema_version] && [dict get $request schema_version] ne "1"} {
        Refuse BAD_REQUEST "schema_version [dict get $request schema_version] is not supported;\
            this bootstrap reads schema_version 1"
    }
    foreach key {request_id script timeout_s} {
        if {![dict exists $request $key]} { Refuse BAD_REQUEST "$key: field required" }
    }
    if {[set given [dict get $request request_id]] ne $id} {
        Refuse BAD_REQUEST "request_id \"$given\" is not the file's name \"$id\""
    }
    if {![string is double -strict [set timeout [dict get $request timeout_s]]]
            || !($timeout > 0)} {
        Refuse BAD_REQUEST "timeout_s: \"$timeout\" is not a number of seconds > 0"
    }
    set arguments [expr {[dict exists $request args] ? [dict get $request args] : {}}]
    if {[catch {dict size $arguments}]} { Refuse BAD_REQUEST "args: not a JSON object" }
    if {[dict exists $request created_ts]
            && ![string is double -strict [dict get $request created_ts]]} {
        Refuse BAD_REQUEST "created_ts: not a number"
    }
    return [list [CheckScript [dict get $request script]] $arguments $timeout]
}

# Normalizing name/__x__ and dropping __x__ resolves a symlink in the last component too.
proc ::spilot::Resolve {path} { file dirname [file normalize "$path/__x__"] }

proc ::spilot::CheckScript {script} {
    variable S
    set parts [split [string map {\\ /} $script] /]
    if {[regexp {[\x00-\x1f]} $script]} {
        Refuse BAD_REQUEST "script [list $script]: control characters in the path"
    }
    if {[string index $script 0] in {/ ~} || [file pathtype $script] ne "relative"
            || ".." in $parts} {
        Refuse SECURITY "script \"$script\": absolute paths and '..' are refused"
    }
    if {![string match *.tcl $script] || [lindex $parts 0] ne "scripts"} {
        Refuse SECURITY "script \"$script\": only scripts/*.tcl may run"
    }
    if {[string first "$S(scriptsDir)/" [set path [Resolve [Path $script]]]] != 0} {
        Refuse SECURITY "script \"$script\" resolves outside scripts/: $path"
    }
    if {$path eq $S(bootstrap)} { Refuse SECURITY "script \"$script\" is the bootstrap" }
    if {![file isfile $path]} { Refuse BAD_REQUEST "script \"$script\" does not exist" }
    return $path
}

# Runs and acks one request, or skips it when an ack appeared since the queue was read.
# An acked request moves to queue/done/: the listing of queue/ stays as short as the backlog
# (listing 500 old requests cost more than running a no-op skill). The ack alone makes a
# request done, so a request that cannot be moved is merely listed again and skipped.
proc ::spilot::Retire {id} {
    set from [Path queue $id.json]
    if {![catch {file rename $from [Path queue/done $id.json]}]} {
        dict unset ::spilot::S(seen) $from
    }
}

proc ::spilot::RunOne {created id loaded} {
    variable S
    dict set S(seen) [Path queue $id.json] 1
    if {[file exists [Path ack $id.json]]} {
        dict set S(done) $id.json ""
        return
    }
    set t0 [clock microseconds]
    set ::spilot::cur(busy) 0
    lassign {FAIL "" "" {} {}} status type message metrics reports
    try {
        lassign [Validate $id $loaded] path arguments timeout
        lassign [RunSkill $id $path $arguments $timeout] status type message metrics reports
    } trap {SPILOT REFUSE} {message options} {
        set type [lindex [dict get $options -errorcode] 2]
    } on error {message options} {
        Log "internal error on request $id: [dict get $options -errorinfo]"
        lassign [list CMD_FAIL "internal error in bootstrap.tcl: $message"] type message
    }
    set message [Redact $message]
    if {[string length $message] > 8000} {
        set message "[string range $message 0 7999]... ([string length $message] characters)"
    }
    set t1 [clock microseconds]
    set ack [json::object [list schema_version 1 request_id [json::str $id] \
        status [json::str $status] error_type [json::str $type] message [json::str $message] \
        start_ms [expr {$t0 / 1000}] end_ms [expr {$t1 / 1000}] \
        duration_ms [format %.3f [expr {($t1 - $t0) / 1000.0}]] \
        reports [json::array [lmap r $reports {json::str $r}]] metrics [json::object $metrics]]]
    # state.json follows the state, not the count: a skill that made it busy makes it ready.
    # The heartbeat's count catches up at its next beat: replacing a file per request would
    # cost more than the rest of a no-op request on some file systems.
    incr S(requestsDone)
    if {$::spilot::cur(busy)} { catch {State ready} }
    if {[catch {WriteNew [Path ack $id.json] $ack} written]} {
        Log "cannot write ack/$id.json: $written"
        set written 0
    }
    if {!$written} { Log "ack/$id.json exists already: it stands, not this one ($status $type)" }
    dict set S(done) $id.json [expr {$written ? $status : ""}]
    Retire $id
    Answer $id
    if {$type ne "OK"} { Log "$id: $status $type [string range $message 0 300]" }
}

::spilot::Start
vwait ::spilot::forever
catch {close $::spilot::S(server)}
exit 0
