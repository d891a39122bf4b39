# commands.tcl: the Innovus commands of the stand-in (syntax and report formats as Innovus'),
# over the database of database.tcl. Sourced by innovus.tcl.

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
