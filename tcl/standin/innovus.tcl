# The Innovus stand-in: Innovus' command line and the Innovus commands the shipped skills use,
# over a design database in JSON (fixtures/innovus/*.json). Not Cadence software.
#
#   tclsh standin/innovus.tcl [-no_gui|-nowin] [-batch] [-init FILE] [-log PREFIX] [-nolog]
#                             [-overwrite] [-version]
#
# Like Innovus: -version prints the version line and exits 0; an unknown option is an **ERROR
# on stderr and exit 1; -log PREFIX writes PREFIX.log and PREFIX.cmd (PREFIX1.log/.cmd,
# PREFIX2..., when they exist and -overwrite is absent; a PREFIX ending in ".log" loses it);
# without -log the files are innovus.log/innovus.cmd in the current folder, -nolog writes none.
# -init FILE is sourced at global level (an error in it: the error on stderr, exit 1); without
# -init commands are read from stdin until EOF. Then exit 0.
#
# Two ways to use this file:
#   * run it (tclsh innovus.tcl ARGS): ::standin::main runs with $argv;
#   * source it from another script: it only defines the commands (main runs only when this
#     file is $argv0, i.e. the script tclsh was started with), so a harness can call
#     restoreDesign, dbGet, ... directly, or ::standin::main ARGS itself.
#
# Commands (global; helpers live in ::standin):
#   getVersion
#   restoreDesign DB TOP            DB: a design JSON file; TOP must be its "top"
#   freeDesign
#   dbGet [-e] [-u] [-p|-pN] OBJ.attr[.attr...] [PATTERN]
#                                   OBJ: top, or pointer(s) from dbGet; design: name insts;
#                                   inst: name cell area; cell: name. Nothing found: 0x0
#                                   ("" with -e); no design: top is 0x0, anything below errors
#   timeDesign (-prePlace|-preCTS|-postCTS|-postRoute|-signoff) [-hold] [-outDir DIR]
#              [-prefix P] [-expandedViews] [-numPaths N] [-pathReports] [-drvReports]
#              [-slackReports]
#                                   writes DIR/P.summary (setup) or DIR/P_hold.summary (hold);
#                                   DIR defaults to timingReports, P to <top>_<stage>.
#                                   SPILOT_STANDIN_GZIP=1 writes P.summary.gz as Innovus does.
#   verify_drc [-report FILE] [-limit N] [-check_only X] [-layer_range X] [-area X]
#   verifyConnectivity [-type all|regular|special] [-report FILE] [-error N] [-warning N]
#
# Every call of these commands goes to the .cmd file and, with its output and result, to the
# .log file ("<CMD> ..." lines, as Innovus logs commands). Errors are Tcl errors whose message
# is the Innovus-style "**ERROR: (ID):\t..." line; the message IDs are the stand-in's own.

namespace eval ::standin {
    variable VERSION "21.18-s099_1"
    variable HERE [file dirname [file normalize [info script]]]
    variable JSON_LIB [file join [file dirname [file dirname [file normalize [info script]]]] \
        lib json.tcl]
    variable json_interp ""
    variable log_fh ""
    variable cmd_fh ""
    variable started [clock milliseconds]
    # The loaded design: empty when none. Keys: path name top core_area instances timing drc
    # connectivity. Objects: ptr -> {kind design|inst|cell index N}.
    variable design {}
    variable objs
    array set objs {}
    variable ptr_design 0x0
    variable ptr_insts {}
    variable generation 0
    variable COMMANDS {getVersion restoreDesign freeDesign dbGet timeDesign verify_drc
        verifyConnectivity}
    namespace eval cmd {}
}

# ---------------------------------------------------------------------------------------------
# Output, log files, errors

proc ::standin::logline {text} {
    variable log_fh
    if {$log_fh ne ""} {
        puts $log_fh $text
        flush $log_fh
    }
}

proc ::standin::cmdline {text} {
    variable cmd_fh
    if {$cmd_fh ne ""} {
        puts $cmd_fh $text
        flush $cmd_fh
    }
}

# A line of command output: on stdout and in the log, as Innovus does.
proc ::standin::say {text} {
    puts stdout $text
    flush stdout
    logline $text
}

# Raise an Innovus-style error from a command implementation.
proc ::standin::fail {id message} {
    return -code error -errorcode [list INNOVUS $id] "**ERROR: ($id):\t$message"
}

proc ::standin::need_design {} {
    variable design
    if {$design eq {}} {
        fail IMPOPT-581 "Design not in memory: no design is loaded (use restoreDesign first)."
    }
}

proc ::standin::bad_option {command option} {
    fail IMPTCM-48 "\"$option\" is not a legal option for command \"$command\". Either the\
        current option or an option prior to it is not specified correctly."
}

proc ::standin::short {text} {
    if {[string length $text] > 400} {
        return "[string range $text 0 396]..."
    }
    return $text
}

# Every Innovus command runs through here: .cmd line, "<CMD>" log line, output, result.
proc ::standin::invoke {name argv} {
    set line [list $name {*}$argv]
    cmdline $line
    logline "<CMD> $line"
    set code [catch {::standin::cmd::$name {*}$argv} result opts]
    if {$code == 1} {
        say $result
        logline "# result: (error)"
        return -code error -errorcode [dict get $opts -errorcode] $result
    }
    logline "# result: [short $result]"
    return $result
}

foreach ::standin::_name $::standin::COMMANDS {
    proc ::$::standin::_name args "::standin::invoke $::standin::_name \$args"
}
unset ::standin::_name

# ---------------------------------------------------------------------------------------------
# Design database (JSON)

proc ::standin::json_parse {text} {
    variable json_interp
    variable JSON_LIB
    if {$json_interp eq ""} {
        # The parser lives in its own interpreter so the stand-in adds nothing but the Innovus
        # commands to the main one (the bootstrap loads its own copy there).
        # Without lib/json.tcl beside standin/ (the stand-in copied alone), tcllib's json.
        set json_interp [interp create]
        if {[catch {
            if {[file isfile $JSON_LIB]} {
                $json_interp eval [list source $JSON_LIB]
            } else {
                $json_interp eval {
                    package require json
                    namespace eval ::spilot::json {}
                    proc ::spilot::json::parse {text} { return [::json::json2dict $text] }
                }
            }
        } err]} {
            interp delete $json_interp
            set json_interp ""
            fail IMPDB-2077 "Cannot load the stand-in's JSON reader ($JSON_LIB or tcllib\
                json): $err"
        }
    }
    return [$json_interp eval [list ::spilot::json::parse $text]]
}

proc ::standin::is_number {value} {
    return [string is double -strict $value]
}

# The design dict from a parsed database, or an error naming what is wrong.
proc ::standin::check_design {doc} {
    if {[catch {dict size $doc}]} {
        error "the database is not a JSON object"
    }
    foreach key {name top core_area_um2 instances timing} {
        if {![dict exists $doc $key]} {
            error "the database has no \"$key\""
        }
    }
    set core [dict get $doc core_area_um2]
    if {![is_number $core] || $core <= 0} {
        error "core_area_um2 is not a positive number"
    }
    set instances {}
    foreach inst [dict get $doc instances] {
        if {[catch {dict size $inst}]} {
            error "an instance is not an object"
        }
        foreach key {name cell area} {
            if {![dict exists $inst $key]} {
                error "an instance has no \"$key\""
            }
        }
        if {![is_number [dict get $inst area]]} {
            error "instance [dict get $inst name] has a non-numeric area"
        }
        lappend instances $inst
    }
    set timing [dict get $doc timing]
    foreach mode {setup hold} {
        if {[catch {dict get $timing $mode} figures]} {
            error "timing has no \"$mode\""
        }
        foreach key {wns_ns tns_ns violating_paths all_paths} {
            if {[catch {dict get $figures $key} value] || ![is_number $value]} {
                error "timing.$mode.$key is missing or not a number"
            }
        }
    }
    set out [dict create name [dict get $doc name] top [dict get $doc top] \
        core_area $core instances $instances timing $timing drc {} connectivity {}]
    foreach key {drc connectivity} {
        if {[dict exists $doc $key]} {
            set items {}
            foreach item [dict get $doc $key] {
                if {[catch {dict get $item type}]} {
                    error "a $key entry has no \"type\""
                }
                lappend items $item
            }
            dict set out $key $items
        }
    }
    return $out
}

proc ::standin::clear_design {} {
    variable design
    variable objs
    variable ptr_design
    variable ptr_insts
    set design {}
    array unset objs
    array set objs {}
    set ptr_design 0x0
    set ptr_insts {}
}

proc ::standin::load_design {path top} {
    variable design
    variable objs
    variable ptr_design
    variable ptr_insts
    variable generation
    if {[catch {
        set fh [open $path r]
        fconfigure $fh -encoding utf-8
        set text [read $fh]
        close $fh
    } err]} {
        fail IMPDB-2078 "Cannot read design database '$path': $err."
    }
    if {[catch {json_parse $text} doc opts]} {
        if {[lindex [dict get $opts -errorcode] 0] eq "INNOVUS"} {
            return -options $opts $doc
        }
        fail IMPDB-2079 "Design database '$path' is corrupt and cannot be restored:\
            [lindex [split $doc \n] 0]"
    }
    if {[catch {check_design $doc} checked]} {
        fail IMPDB-2079 "Design database '$path' is corrupt and cannot be restored: $checked."
    }
    if {[dict get $checked top] ne $top} {
        fail IMPDB-2080 "Top cell '$top' is not in design database '$path' (its top cell is\
            '[dict get $checked top]')."
    }
    # Pointers change from one restore to the next, like the tool's.
    incr generation
    set base [expr {0x7f3a5c000000 + $generation * 0x10000000}]
    dict set checked path $path
    set design $checked
    set ptr_design [format 0x%x [expr {$base + 0x1000}]]
    set objs($ptr_design) [list kind design index 0]
    set ptr_insts {}
    set cells [dict create]
    set i 0
    foreach inst [dict get $design instances] {
        set ptr [format 0x%x [expr {$base + 0x100000 + $i * 0x140}]]
        set cell [dict get $inst cell]
        if {![dict exists $cells $cell]} {
            set cptr [format 0x%x [expr {$base + 0x8000000 + [dict size $cells] * 0x1c0}]]
            dict set cells $cell $cptr
            set objs($cptr) [list kind cell index $cell]
        }
        set objs($ptr) [list kind inst index $i cell [dict get $cells $cell]]
        lappend ptr_insts $ptr
        incr i
    }
}

# ---------------------------------------------------------------------------------------------
# Commands

proc ::standin::cmd::getVersion {args} {
    if {[llength $args]} {
        ::standin::bad_option getVersion [lindex $args 0]
    }
    return $::standin::VERSION
}

proc ::standin::cmd::restoreDesign {args} {
    set positional {}
    foreach a $args {
        if {[string match -* $a]} {
            ::standin::bad_option restoreDesign $a
        }
        lappend positional $a
    }
    if {[llength $positional] != 2} {
        ::standin::fail IMPTCM-162 "restoreDesign takes the design database and the top cell's\
            name: restoreDesign <dbDir> <topCellName>."
    }
    lassign $positional path top
    ::standin::say "#% Begin load design ... (date=[clock format [clock seconds]\
        -format {%m/%d %H:%M:%S}])"
    # A restore replaces the design in memory; a failed one leaves none loaded.
    ::standin::clear_design
    ::standin::load_design $path $top
    set d $::standin::design
    ::standin::say "Loading design '$top' from '$path' ([llength [dict get $d instances]]\
        instances)."
    ::standin::say "#% End load design ..."
    return ""
}

proc ::standin::cmd::freeDesign {args} {
    if {[llength $args]} {
        ::standin::bad_option freeDesign [lindex $args 0]
    }
    if {$::standin::design eq {}} {
        ::standin::say "**WARN: (IMPSYT-7329):\tNo design is loaded; freeDesign has nothing to\
            free."
        return ""
    }
    ::standin::say "Freeing design '[dict get $::standin::design top]'."
    ::standin::clear_design
    return ""
}

# One attribute of one object: {values...} (a list, one element per value).
proc ::standin::attr {ptr attr} {
    variable objs
    variable design
    variable ptr_insts
    if {$ptr eq "0x0"} {
        if {$design eq {}} {
            fail IMPDBTCL-200 "No design is loaded: 'top' is 0x0, so it has no '$attr'."
        }
        fail IMPDBTCL-207 "'0x0' is not a valid object; it has no '$attr'."
    }
    if {![info exists objs($ptr)]} {
        fail IMPDBTCL-207 "'$ptr' is not a valid object pointer (was the design freed or\
            restored since?)."
    }
    set obj $objs($ptr)
    set kind [dict get $obj kind]
    switch -exact -- $kind {
        design {
            set known {name insts}
            switch -exact -- $attr {
                name { return [list [dict get $design top]] }
                insts { return $ptr_insts }
            }
        }
        inst {
            set known {name cell area}
            set inst [lindex [dict get $design instances] [dict get $obj index]]
            switch -exact -- $attr {
                name { return [list [dict get $inst name]] }
                area { return [list [dict get $inst area]] }
                cell { return [list [dict get $obj cell]] }
            }
        }
        cell {
            set known {name}
            if {$attr eq "name"} {
                return [list [dict get $obj index]]
            }
        }
    }
    if {$attr eq "?"} {
        return [list $known]
    }
    fail IMPDBTCL-206 "'$attr' is not a recognized object/attribute. For help use\
        'dbGet <object>.?' to get list of all supported objects and attributes."
}

proc ::standin::cmd::dbGet {args} {
    set empty 0x0
    set unique 0
    set parent 0
    while {[llength $args] && [string match -* [lindex $args 0]]} {
        set args [lassign $args opt]
        switch -regexp -matchvar m -- $opt {
            {^-e$} { set empty "" }
            {^-u$} { set unique 1 }
            {^-p$} { set parent 1 }
            {^-p([1-9])$} { set parent [lindex $m 1] }
            default { ::standin::bad_option dbGet $opt }
        }
    }
    if {[llength $args] < 1 || [llength $args] > 2} {
        ::standin::fail IMPTCM-162 "dbGet takes an object path and an optional pattern:\
            dbGet \[-e\] \[-u\] \[-p\] <object>.<attribute> \[pattern\]."
    }
    lassign $args path pattern
    set parts [split $path .]
    set head [lindex $parts 0]
    set attrs [lrange $parts 1 end]
    if {$head eq "top"} {
        set start [list $::standin::ptr_design]
    } elseif {[llength $head] && [regexp {^(0x[0-9a-fA-F]+\s*)+$} $head]} {
        set start $head
    } else {
        ::standin::fail IMPDBTCL-206 "'$head' is not a recognized object/attribute. For help\
            use 'dbGet <object>.?' to get list of all supported objects and attributes."
    }
    if {$parent > [llength $attrs]} {
        ::standin::fail IMPDBTCL-208 "-p$parent goes above '$head' in '$path'."
    }
    # Each element: {value ancestors}; ancestors[0] is the object the value was read from.
    set elements {}
    foreach ptr $start {
        lappend elements [list $ptr {}]
    }
    foreach attr $attrs {
        set next {}
        foreach element $elements {
            lassign $element obj chain
            foreach value [::standin::attr $obj $attr] {
                lappend next [list $value [linsert $chain 0 $obj]]
            }
        }
        set elements $next
    }
    if {$attrs eq {} && $start eq "0x0"} {
        return 0x0
    }
    set out {}
    foreach element $elements {
        lassign $element value chain
        if {[llength $args] == 2 && ![string match $pattern $value]} {
            continue
        }
        # (not expr's ?: -- it would turn a 0x pointer into a decimal number)
        if {$parent} {
            lappend out [lindex $chain [expr {$parent - 1}]]
        } else {
            lappend out $value
        }
    }
    if {$unique || $parent} {
        set seen [dict create]
        foreach value $out {
            dict set seen $value 1
        }
        set out [dict keys $seen]
    }
    if {$out eq {}} {
        return $empty
    }
    if {[llength $out] == 1} {
        return [lindex $out 0]
    }
    return $out
}

# A value centred in a 9-character cell, as in Innovus' summary tables.
proc ::standin::cell9 {text} {
    set pad [expr {9 - [string length $text]}]
    if {$pad < 0} {
        return $text
    }
    set left [expr {$pad / 2}]
    return "[string repeat { } $left]$text[string repeat { } [expr {$pad - $left}]]"
}

proc ::standin::summary_text {mode command} {
    variable design
    variable VERSION
    set figures [dict get $design timing $mode]
    set title [expr {$mode eq "setup" ? "Setup mode" : "Hold mode"}]
    set pad [expr {20 - [string length $title]}]
    set left [expr {$pad / 2}]
    set head "[string repeat { } $left]$title[string repeat { } [expr {$pad - $left}]]"
    set rule "+--------------------+---------+"
    set area 0.0
    foreach inst [dict get $design instances] {
        set area [expr {$area + [dict get $inst area]}]
    }
    set density [expr {100.0 * $area / [dict get $design core_area]}]
    set lines [list \
        "###############################################################" \
        "#  Generated by:      Innovus stand-in $VERSION (pytest-spilot)" \
        "#  Generated on:      [clock format [clock seconds] -format {%a %b %d %H:%M:%S %Y}]" \
        "#  Design:            [dict get $design top]" \
        "#  Command:           $command" \
        "###############################################################" \
        "" \
        "------------------------------------------------------------" \
        "          timeDesign Summary" \
        "------------------------------------------------------------" \
        "" \
        $rule \
        "|$head|[cell9 all]|" \
        $rule \
        "|           WNS (ns):|[cell9 [format %.3f [dict get $figures wns_ns]]]|" \
        "|           TNS (ns):|[cell9 [format %.3f [dict get $figures tns_ns]]]|" \
        "|    Violating Paths:|[cell9 [format %d [dict get $figures violating_paths]]]|" \
        "|          All Paths:|[cell9 [format %d [dict get $figures all_paths]]]|" \
        $rule \
        "" \
        "Density: [format %.3f $density]%" \
        "------------------------------------------------------------"]
    return [join $lines \n]
}

proc ::standin::write_text {path text {gzip 0}} {
    set folder [file dirname $path]
    if {$folder ne "" && ![file isdirectory $folder]} {
        file mkdir $folder
    }
    set fh [open $path w]
    if {$gzip} {
        fconfigure $fh -translation binary
        puts -nonewline $fh [zlib gzip [encoding convertto utf-8 "$text\n"]]
    } else {
        fconfigure $fh -encoding utf-8
        puts $fh $text
    }
    close $fh
}

proc ::standin::cmd::timeDesign {args} {
    set command [list timeDesign {*}$args]
    set stage ""
    set hold 0
    set outDir timingReports
    set prefix ""
    while {[llength $args]} {
        set args [lassign $args opt]
        switch -exact -- $opt {
            -prePlace - -preCTS - -postCTS - -postRoute - -signoff {
                if {$stage ne ""} {
                    ::standin::fail IMPTCM-162 "timeDesign takes one design stage, not\
                        -$stage and $opt."
                }
                set stage [string range $opt 1 end]
            }
            -hold { set hold 1 }
            -outDir - -prefix - -numPaths {
                if {![llength $args]} {
                    ::standin::fail IMPTCM-162 "option \"$opt\" of timeDesign needs a value."
                }
                set args [lassign $args value]
                switch -exact -- $opt {
                    -outDir { set outDir $value }
                    -prefix { set prefix $value }
                }
            }
            -expandedViews - -pathReports - -drvReports - -slackReports {}
            default { ::standin::bad_option timeDesign $opt }
        }
    }
    if {$stage eq ""} {
        ::standin::fail IMPTCM-162 "timeDesign needs a design stage: one of -prePlace, -preCTS,\
            -postCTS, -postRoute, -signoff."
    }
    ::standin::need_design
    if {$prefix eq ""} {
        set prefix "[dict get $::standin::design top]_$stage"
    }
    set mode [expr {$hold ? "hold" : "setup"}]
    set name [expr {$hold ? "${prefix}_hold.summary" : "$prefix.summary"}]
    set gzip [expr {[info exists ::env(SPILOT_STANDIN_GZIP)]
        && $::env(SPILOT_STANDIN_GZIP) in {1 true yes}}]
    if {$gzip} {
        append name .gz
    }
    set text [::standin::summary_text $mode $command]
    ::standin::write_text [file join $outDir $name] $text $gzip
    foreach line [split $text \n] {
        ::standin::say $line
    }
    ::standin::say "Reported timing to dir $outDir"
    return ""
}

proc ::standin::report_header {command} {
    variable VERSION
    variable design
    return [list \
        "###############################################################" \
        "#  Generated by:      Innovus stand-in $VERSION (pytest-spilot)" \
        "#  Generated on:      [clock format [clock seconds] -format {%a %b %d %H:%M:%S %Y}]" \
        "#  Design:            [dict get $design top]" \
        "#  Command:           $command" \
        "###############################################################"]
}

# (not expr's ?: -- it turns number-like strings such as 0x1f into decimal numbers)
proc ::standin::get_or {d key default} {
    if {[dict exists $d $key]} {
        return [dict get $d $key]
    }
    return $default
}

proc ::standin::int_value {command opt value} {
    if {![string is integer -strict $value] || $value < 0} {
        fail IMPTCM-162 "option \"$opt\" of $command takes a non-negative integer, not\
            \"$value\"."
    }
    return $value
}

proc ::standin::cmd::verify_drc {args} {
    set command [list verify_drc {*}$args]
    set report ""
    set limit 1000
    while {[llength $args]} {
        set args [lassign $args opt]
        switch -exact -- $opt {
            -report - -limit - -check_only - -layer_range - -area {
                if {![llength $args]} {
                    ::standin::fail IMPTCM-162 "option \"$opt\" of verify_drc needs a value."
                }
                set args [lassign $args value]
                switch -exact -- $opt {
                    -report { set report $value }
                    -limit { set limit [::standin::int_value verify_drc $opt $value] }
                }
            }
            -exclude_pg_net {}
            default { ::standin::bad_option verify_drc $opt }
        }
    }
    ::standin::need_design
    set top [dict get $::standin::design top]
    if {$report eq ""} {
        set report "$top.drc.rpt"
    }
    set violations [dict get $::standin::design drc]
    if {$limit > 0 && [llength $violations] > $limit} {
        set violations [lrange $violations 0 [expr {$limit - 1}]]
        ::standin::say "**WARN: (IMPVFG-1100):\tverify_drc stopped at the limit of $limit\
            violations (-limit)."
    }
    set lines [::standin::report_header $command]
    foreach v $violations {
        set layer [::standin::get_or $v layer -]
        set line "[dict get $v type]: ( $layer )"
        if {[dict exists $v box] && [llength [dict get $v box]] == 4} {
            lassign [dict get $v box] x1 y1 x2 y2
            append line [format " Bounds : ( %.3f, %.3f ) ( %.3f, %.3f )" $x1 $y1 $x2 $y2]
        }
        lappend lines $line
    }
    set n [llength $violations]
    if {$n == 0} {
        lappend lines "No DRC violations were found"
    }
    lappend lines "Verification Complete : $n Viols."
    ::standin::write_text $report [join $lines \n]
    ::standin::say " *** Starting Verify DRC ***"
    ::standin::say "  VERIFY DRC ...... Starting Verification"
    ::standin::say "  VERIFY DRC ...... SubArea : 1 of 1"
    ::standin::say "  Verification Complete : $n Viols."
    ::standin::say " *** End Verify DRC (CPU TIME: 0:00:00.0) ***"
    return ""
}

proc ::standin::cmd::verifyConnectivity {args} {
    set command [list verifyConnectivity {*}$args]
    set report ""
    set type all
    set limit 1000
    while {[llength $args]} {
        set args [lassign $args opt]
        switch -exact -- $opt {
            -type - -report - -error - -warning {
                if {![llength $args]} {
                    ::standin::fail IMPTCM-162 "option \"$opt\" of verifyConnectivity needs a\
                        value."
                }
                set args [lassign $args value]
                switch -exact -- $opt {
                    -type {
                        if {$value ni {all regular special}} {
                            ::standin::fail IMPTCM-162 "-type of verifyConnectivity is all,\
                                regular or special, not \"$value\"."
                        }
                        set type $value
                    }
                    -report { set report $value }
                    -error { set limit [::standin::int_value verifyConnectivity $opt $value] }
                    -warning { ::standin::int_value verifyConnectivity $opt $value }
                }
            }
            default { ::standin::bad_option verifyConnectivity $opt }
        }
    }
    ::standin::need_design
    set top [dict get $::standin::design top]
    if {$report eq ""} {
        set report "$top.conn.rpt"
    }
    set problems {}
    foreach p [dict get $::standin::design connectivity] {
        set special [expr {[dict exists $p special] && [string is true -strict \
            [dict get $p special]]}]
        if {$type eq "all" || ($type eq "special") == $special} {
            lappend problems $p
        }
    }
    if {$limit > 0 && [llength $problems] > $limit} {
        set problems [lrange $problems 0 [expr {$limit - 1}]]
    }
    set lines [::standin::report_header $command]
    lappend lines "******** Start: VERIFY CONNECTIVITY ********" "Design Name: $top"
    foreach p $problems {
        set net [::standin::get_or $p net -]
        lappend lines "Net $net: [dict get $p type]."
    }
    set n [llength $problems]
    lappend lines "Begin Summary"
    if {$n == 0} {
        lappend lines "    Found no problems or warnings."
    } else {
        lappend lines "    $n Problem(s)" "    $n Total Problem(s)"
    }
    lappend lines "End Summary" "******** End: VERIFY CONNECTIVITY ********" \
        "Verification Complete : $n Viols."
    ::standin::write_text $report [join $lines \n]
    ::standin::say "******** Start: VERIFY CONNECTIVITY ********"
    ::standin::say "  Verification Complete : $n Viols.  0 Wrngs."
    ::standin::say "******** End: VERIFY CONNECTIVITY ********"
    return ""
}

# ---------------------------------------------------------------------------------------------
# Command line

proc ::standin::version_line {} {
    variable VERSION
    return "@(#)CDS: Innovus v$VERSION (64bit) (pytest-spilot stand-in under tclsh\
        [info patchlevel]; not Cadence software)"
}

proc ::standin::usage {} {
    return "Usage: innovus \[-no_gui|-nowin\] \[-batch\] \[-init <file>\] \[-log <prefix>\]\
        \[-nolog\] \[-overwrite\] \[-version\]"
}

proc ::standin::die {message} {
    puts stderr $message
    flush stderr
    exit 1
}

# PREFIX.log/.cmd, or the first free PREFIXn.log/.cmd unless overwriting.
proc ::standin::log_names {prefix overwrite} {
    if {[string match *.log $prefix]} {
        set prefix [string range $prefix 0 end-4]
    }
    set n ""
    if {!$overwrite} {
        set n 0
        while {[file exists $prefix[expr {$n ? $n : ""}].log]
                || [file exists $prefix[expr {$n ? $n : ""}].cmd]} {
            incr n
        }
        if {$n == 0} {
            set n ""
        }
    }
    return [list $prefix$n.log $prefix$n.cmd]
}

proc ::standin::open_logs {prefix overwrite options} {
    variable log_fh
    variable cmd_fh
    variable VERSION
    lassign [log_names $prefix $overwrite] log cmd
    set folder [file dirname $log]
    if {![file isdirectory $folder]} {
        file mkdir $folder
    }
    set log_fh [open $log w]
    set cmd_fh [open $cmd w]
    fconfigure $log_fh -encoding utf-8
    fconfigure $cmd_fh -encoding utf-8
    set now [clock format [clock seconds] -format {%a %b %d %H:%M:%S %Y}]
    foreach line [list "" \
            "Innovus stand-in (pytest-spilot): Innovus' command line over a JSON design database." \
            "Not Cadence software." "" \
            "Version:\tv$VERSION (stand-in), tclsh [info patchlevel]" \
            "Options:\t$options" \
            "Date:\t\t$now" \
            "Host:\t\t[info hostname] ($::tcl_platform(machine) w/$::tcl_platform(os)\
                $::tcl_platform(osVersion))" \
            "Log:\t\t[file normalize $log]" ""] {
        logline $line
    }
    foreach line [list \
            "#######################################################" \
            "#                                                     " \
            "#  Innovus Command Logging File                     " \
            "#  Created on $now                " \
            "#                                                     " \
            "#######################################################" "" \
            "#[version_line]" ""] {
        cmdline $line
    }
    trace add execution ::exit enter ::standin::on_exit
}

proc ::standin::on_exit {args} {
    # An error here would stop the exit: swallow everything.
    catch {::standin::close_logs}
}

proc ::standin::close_logs {} {
    variable log_fh
    variable cmd_fh
    variable started
    set secs [expr {([clock milliseconds] - $started) / 1000.0}]
    logline [format {--- Ending "Innovus" (totcpu=0:00:00.0, real=%d:%02d:%04.1f, mem=0.0M) ---} \
        [expr {int($secs) / 3600}] [expr {int($secs) / 60 % 60}] \
        [expr {fmod($secs, 60)}]]
    foreach fh [list $log_fh $cmd_fh] {
        if {$fh ne ""} {
            catch {close $fh}
        }
    }
    set log_fh ""
    set cmd_fh ""
}

proc ::standin::repl {} {
    set buffer ""
    while {[gets stdin line] >= 0} {
        append buffer $line \n
        if {![info complete $buffer]} {
            continue
        }
        set script $buffer
        set buffer ""
        if {[string trim $script] eq ""} {
            continue
        }
        set code [catch {uplevel #0 $script} result opts]
        if {$code == 1} {
            # The Innovus commands have printed their own **ERROR already.
            if {[lindex [dict get $opts -errorcode] 0] ne "INNOVUS"} {
                say $result
            }
        } elseif {$result ne ""} {
            puts stdout $result
            flush stdout
        }
    }
}

proc ::standin::main {argv} {
    set init ""
    set prefix innovus
    set nolog 0
    set overwrite 0
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set opt [lindex $argv $i]
        switch -exact -- $opt {
            -no_gui - -nowin - -batch - -64 {}
            -version {
                puts stdout [version_line]
                flush stdout
                exit 0
            }
            -init - -files - -log {
                if {$i + 1 >= [llength $argv]} {
                    die "**ERROR: (IMPSYT-6000):\tCommand line option $opt needs a value.\n[usage]"
                }
                set value [lindex $argv [incr i]]
                if {$opt eq "-log"} {
                    set prefix $value
                } else {
                    set init $value
                }
            }
            -nolog { set nolog 1 }
            -overwrite { set overwrite 1 }
            default {
                die "**ERROR: (IMPSYT-6000):\tUnknown command line option \"$opt\".\n[usage]"
            }
        }
    }
    if {!$nolog} {
        if {[catch {open_logs $prefix $overwrite $argv} err]} {
            die "**ERROR: (IMPSYT-6001):\tCannot write the log files for -log $prefix: $err"
        }
    }
    if {$init ne ""} {
        cmdline "#@ source $init"
        logline "Sourcing tcl/tk file '$init' ..."
        if {[catch {uplevel #0 [list source $init]} err opts]} {
            logline "**ERROR: $err"
            puts stderr "**ERROR: (IMPSYT-6002):\tError in -init file '$init': $err"
            puts stderr [dict get $opts -errorinfo]
            flush stderr
            exit 1
        }
    } else {
        repl
    }
    exit 0
}

if {[info exists ::argv0] && [info script] ne ""
        && [file normalize $::argv0] eq [file normalize [info script]]} {
    ::standin::main $::argv
}
