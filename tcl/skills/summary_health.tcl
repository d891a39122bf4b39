# Skill summary_health: one look at a loaded design. Instance count (dbGet), utilisation (the
# Density line of the timeDesign summary), setup and hold WNS/TNS (timeDesign, setup then
# -hold, into the request's work folder), and health_ok: 1 when both WNS are >= 0.
#
# Real Innovus writes <prefix>.summary.gz (the stand-in a plain .summary); both are read.

source [file join [file dirname [info script]] lib timedesign.tcl]

if {[dbGet top] eq "0x0"} {
    spilot::fail CMD_FAIL "summary_health: no design is loaded; run restore_design first"
} else {
    set stage [spilot::arg stage postRoute]
    set work [spilot::workdir]
    set insts [dbGet top.insts]
    set count [expr {$insts eq "0x0" ? 0 : [llength $insts]}]

    timeDesign -$stage -outDir $work -prefix summary_health
    timeDesign -$stage -hold -outDir $work -prefix summary_health
    set setup_path [summary_file $work summary_health.summary]
    set hold_path [summary_file $work summary_health_hold.summary]
    set setup [read_summary $setup_path]
    set hold [read_summary $hold_path]

    set m [dict create]
    dict set m instance_count $count
    dict set m utilization_pct [expr {double([summary_density $setup $setup_path])}]
    dict set m setup_wns_ns [expr {double([summary_value $setup "WNS (ns)" $setup_path])}]
    dict set m setup_tns_ns [expr {double([summary_value $setup "TNS (ns)" $setup_path])}]
    dict set m hold_wns_ns [expr {double([summary_value $hold "WNS (ns)" $hold_path])}]
    dict set m hold_tns_ns [expr {double([summary_value $hold "TNS (ns)" $hold_path])}]
    dict set m health_ok [expr {[dict get $m setup_wns_ns] >= 0 && [dict get $m hold_wns_ns] >= 0}]

    set fh [open [spilot::report summary_health.rpt] w]
    fconfigure $fh -encoding utf-8
    puts $fh "summary_health: [dbGet top.name] (timeDesign -$stage)"
    puts $fh "instance_count: [dict get $m instance_count]"
    puts $fh [format "utilization_pct: %.3f" [dict get $m utilization_pct]]
    foreach name {setup_wns_ns setup_tns_ns hold_wns_ns hold_tns_ns} {
        puts $fh [format "%s: %.3f" $name [dict get $m $name]]
    }
    puts $fh "health_ok: [dict get $m health_ok]"
    puts $fh "status: [expr {[dict get $m health_ok] ? {HEALTHY} : {TIMING VIOLATED}}]"
    close $fh

    dict for {name value} $m {
        spilot::metric $name $value
    }
}
