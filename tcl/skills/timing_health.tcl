# Skill timing_health: setup and hold timing of the loaded design (timeDesign, setup then
# -hold, into the request's work folder). The tool's two summaries are kept as reports
# (uncompressed: real Innovus writes <prefix>.summary.gz, the stand-in a plain .summary).

source [file join [file dirname [info script]] lib timedesign.tcl]

if {[dbGet top] eq "0x0"} {
    spilot::fail CMD_FAIL "timing_health: no design is loaded; run restore_design first"
} else {
    set stage [spilot::arg stage postRoute]
    set work [spilot::workdir]
    timeDesign -$stage -outDir $work -prefix timing_health
    timeDesign -$stage -hold -outDir $work -prefix timing_health

    set m [dict create]
    set lines [list "timing_health: [dbGet top.name] (timeDesign -$stage)"]
    foreach mode {setup hold} suffix {"" _hold} {
        set path [summary_file $work timing_health$suffix.summary]
        set text [read_summary $path]
        set fh [open [spilot::report timing_$mode.summary] w]
        fconfigure $fh -encoding utf-8
        puts -nonewline $fh $text
        close $fh
        dict set m ${mode}_wns_ns [expr {double([summary_value $text "WNS (ns)" $path])}]
        dict set m ${mode}_tns_ns [expr {double([summary_value $text "TNS (ns)" $path])}]
        dict set m ${mode}_violating_paths \
            [expr {int([summary_value $text "Violating Paths" $path])}]
        set all [expr {int([summary_value $text "All Paths" $path])}]
        lappend lines [format "%s: WNS %.3f ns, TNS %.3f ns, %d of %d paths violating" $mode \
            [dict get $m ${mode}_wns_ns] [dict get $m ${mode}_tns_ns] \
            [dict get $m ${mode}_violating_paths] $all]
    }
    dict for {name value} $m {
        lappend lines [format [expr {[string match *_ns $name] ? "%s: %.3f" : "%s: %d"}] \
            $name $value]
    }
    set met [expr {[dict get $m setup_wns_ns] >= 0 && [dict get $m hold_wns_ns] >= 0}]
    lappend lines "status: [expr {$met ? {MET} : {VIOLATED}}]"

    set fh [open [spilot::report timing_health.rpt] w]
    fconfigure $fh -encoding utf-8
    puts $fh [join $lines \n]
    close $fh

    dict for {name value} $m {
        spilot::metric $name $value
    }
}
