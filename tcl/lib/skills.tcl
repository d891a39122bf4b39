# skills.tcl: how bootstrap.tcl runs one skill: a fresh child interpreter with the tool's commands,
# the skill API (spilot::*), a time limit that also beats the heartbeat, and no exit.

# -- skills -----------------------------------------------------------------------------------

proc ::spilot::RunSkill {id path arguments timeout} {
    variable cur
    set child [TakeChild]
    # Beyond 1e9 s (31 years) a timeout is as good as none; the clamp keeps the sums integers.
    set ms [expr {max(1, round(min($timeout, 1e9) * 1000))}]
    array unset cur
    # reports/<id>/ appears with the first spilot::report: a skill that writes none leaves none.
    array set cur [list id $id args $arguments metrics {} reports [Path reports $id] \
        timedOut 0 busy 0 deadline [expr {[clock milliseconds] + $ms}]]
    interp eval $child [list namespace eval ::spilot \
        [list variable request_id $id run_dir $::spilot::S(run) args $arguments]]
    SetLimit $child
    set pwd [pwd]
    set code [catch {interp eval $child [list source -encoding utf-8 $path]} message options]
    DropChild $child $code
    if {[pwd] ne $pwd} { catch {cd $pwd} }
    set status FAIL
    if {$code == 1 && $cur(timedOut)} {
        set type TIMEOUT
        set message "timeout_s $timeout exceeded: the skill was stopped ($message)"
    } elseif {$code == 0 || $code == 2} {
        lassign {PASS OK ""} status type message
    } elseif {$code == 1} {
        set type [expr {[lrange [dict get $options -errorcode] 0 1] eq {SPILOT RESTORE_FAIL}
            ? "RESTORE_FAIL" : "CMD_FAIL"}]
        # The frames of this file add nothing to the skill's own trace.
        Log "$id: [regsub {\n    invoked from within\n"source -encoding utf-8 .*} \
            [dict get $options -errorinfo] {}]"
    } else {
        set type CMD_FAIL
        set message "the skill ended with [lindex {ok error return break continue} $code]"
    }
    set reports [lsort [ListFiles $cur(reports) reports/$id]]
    if {$status eq "PASS" && [set broken [CheckContract $path $id $reports $cur(metrics)]] ne ""} {
        lassign [list FAIL CMD_FAIL $broken] status type message
    }
    return [list $status $type $message $cur(metrics) $reports]
}

# The harness stages each skill's contract as scripts/contracts/<skill>.json ({name, reports,
# metrics}); a PASS that misses one of its reports or metrics is a CMD_FAIL naming them, worded
# as contract_break_message in pytest_spilot/innovus/contracts.py. A skill without one is not
# checked.
proc ::spilot::CheckContract {path id reports metrics} {
    set skill [file rootname [file tail $path]]
    set file "$::spilot::S(scriptsDir)/contracts/$skill.json"
    if {![file isfile $file]} { return "" }
    set f [open $file r]
    try {
        fconfigure $f -encoding utf-8
        set contract [json::parse [read $f]]
    } finally {
        close $f
    }
    set missing {}
    set absent [lmap r [dict get $contract reports] {
        if {"reports/$id/$r" in $reports} continue
        set r
    }]
    if {[llength $absent]} { lappend missing "report(s) [join $absent {, }] not written" }
    set absent [lmap m [dict get $contract metrics] {
        if {[dict exists $metrics $m]} continue
        set m
    }]
    if {[llength $absent]} { lappend missing "metric(s) [join $absent {, }] not reported" }
    if {![llength $missing]} { return "" }
    set name [dict get $contract name]
    return "skill '$name' broke its contract: [join $missing {; }]; the skill must write every\
        report and metric $name.yaml names (or drop them there)"
}

proc ::spilot::ListFiles {folder relative} {
    set files {}
    foreach name [glob -nocomplain -tails -directory $folder * .*] {
        if {$name in {. ..}} continue
        switch -- [file type [set path $folder/$name]] {
            directory { lappend files {*}[ListFiles $path $relative/$name] }
            file { lappend files $relative/$name }
            link { if {[file isfile $path]} { lappend files $relative/$name } }
        }
    }
    return $files
}

# The limit is set one heartbeat ahead at a time: each expiry beats the heart, so a long skill
# keeps the session visibly alive, up to the request's own deadline, which is final. state.json
# turns busy at the first expiry: a quick skill is over before anyone could look, and the file
# system is most of the cost of a quick request.
proc ::spilot::SetLimit {child} {
    set at [expr {min([clock milliseconds] + $::spilot::S(hbMs), $::spilot::cur(deadline))}]
    interp limit $child time -seconds [expr {$at / 1000}] -milliseconds [expr {$at % 1000}] \
        -command [list ::spilot::OnTimeLimit $child] -granularity 1
}

proc ::spilot::OnTimeLimit {child} {
    variable cur
    if {[clock milliseconds] >= $cur(deadline)} {
        set cur(timedOut) 1
        return
    }
    if {!$cur(busy)} { catch {State busy $cur(id)} }
    set cur(busy) 1
    catch {Heartbeat}
    SetLimit $child
}

proc ::spilot::NewChild {} {
    variable S
    # Named in ::spilot: its command stays out of the global commands skills are given.
    set child [interp create ::spilot::child[incr S(childSeq)]]
    if {![info exists S(baseline)]} {
        foreach name [interp eval $child {info commands}] { dict set S(baseline) $name 1 }
    }
    interp hide $child exit
    interp alias $child exit {} ::spilot::api::exit
    interp eval $child {namespace eval ::spilot {}}
    foreach name {arg report workdir metric fail log} {
        interp alias $child ::spilot::$name {} ::spilot::api::$name
    }
    set ::spilot::aliased($child) {}
    AliasTools $child
    return $child
}

# Every global command of this interpreter that a fresh child lacks: the tool's commands.
proc ::spilot::AliasTools {child} {
    variable aliased
    foreach name [namespace eval :: {info commands}] {
        if {![dict exists $::spilot::S(baseline) $name] && ![dict exists $aliased($child) $name]} {
            interp alias $child $name {} ::$name
            dict set aliased($child) $name 1
        }
    }
}

# Making a child costs a millisecond or two, deleting one a fraction: both are done while idle
# when they can be, one child per idle turn so that a request never waits long. Two spares
# cover a request that comes before the idle turn after the last one. A spare is still fresh:
# nothing has run in it.
proc ::spilot::Prepare {} {
    variable S
    foreach child $S(dropped) {
        unset -nocomplain ::spilot::aliased($child)
        catch {interp delete $child}
    }
    set S(dropped) {}
    if {[llength $S(spares)] < 2 && !$S(busy)} {
        lappend S(spares) [NewChild]
        if {[llength $S(spares)] < 2} { after idle {::spilot::Safe ::spilot::Prepare} }
    }
}

proc ::spilot::TakeChild {} {
    variable S
    set S(spares) [lassign $S(spares) child]
    if {$child eq "" || ![interp exists $child]} { return [NewChild] }
    AliasTools $child
    return $child
}

# A child that ended cleanly with no channel of its own open waits for Prepare; any other is
# deleted now, so that what it left open is flushed before the ack lists the reports.
proc ::spilot::DropChild {child code} {
    if {$code != 1 && ![catch {
        interp limit $child time -seconds {}
        interp eval $child {
            foreach e [after info] { after cancel $e }
            lmap c [chan names] { if {$c in {stdin stdout stderr}} continue; set c }
        }
    } open] && ![llength $open]} {
        lappend ::spilot::S(dropped) $child
        return
    }
    unset -nocomplain ::spilot::aliased($child)
    interp delete $child
}

# -- the skill API, aliased into each child as spilot::* -------------------------------------

namespace eval ::spilot::api {}

proc ::spilot::api::arg {name args} {
    if {[llength $args] > 1} { error "wrong # args: should be \"spilot::arg name ?default?\"" }
    if {[dict exists $::spilot::cur(args) $name]} { return [dict get $::spilot::cur(args) $name] }
    if {[llength $args]} { return [lindex $args 0] }
    error "spilot::arg: request $::spilot::cur(id) has no argument \"$name\"\
        (it has: [join [dict keys $::spilot::cur(args)] {, }])"
}

proc ::spilot::api::report {name} {
    if {$name eq "" || [string index $name 0] in {/ ~} || [file pathtype $name] ne "relative"
            || ".." in [split [string map {\\ /} $name] /]} {
        error "spilot::report: \"$name\" must be a relative path without '..'"
    }
    file mkdir [file dirname [set path $::spilot::cur(reports)/$name]]
    return $path
}

proc ::spilot::api::workdir {} {
    file mkdir [set path [::spilot::Path work $::spilot::cur(id)]]
    return $path
}

proc ::spilot::api::metric {name value} {
    if {[catch {::spilot::json::num $value} encoded]} {
        error "spilot::metric $name: \"$value\" is not a finite number"
    }
    dict set ::spilot::cur(metrics) $name $encoded
    return
}

proc ::spilot::api::fail {type message} {
    if {$type ni {RESTORE_FAIL CMD_FAIL}} {
        error "spilot::fail: TYPE must be RESTORE_FAIL or CMD_FAIL, not \"$type\""
    }
    return -code error -errorcode [list SPILOT $type] $message
}

proc ::spilot::api::log {message} { ::spilot::Log "$::spilot::cur(id): $message" }

proc ::spilot::api::exit {args} {
    return -code error -errorcode {SPILOT EXIT} "exit is not allowed in a skill: the session\
        must live on (fail the request with spilot::fail or error)"
}

