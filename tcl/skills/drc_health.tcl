# Skill drc_health: geometry (verify_drc) and connectivity (verifyConnectivity) violations of
# the loaded design. Both tools write their reports straight into the request's reports; the
# counts come from their "Verification Complete : N Viols." lines.

proc viols {path} {
    set fh [open $path r]
    fconfigure $fh -encoding utf-8
    set text [read $fh]
    close $fh
    set found [regexp -all -inline {Verification Complete\s*:\s*([0-9]+)\s+Viols} $text]
    if {![llength $found]} {
        error "no 'Verification Complete : N Viols.' line in $path"
    }
    return [lindex $found end]
}

if {[dbGet top] eq "0x0"} {
    spilot::fail CMD_FAIL "drc_health: no design is loaded; run restore_design first"
} else {
    set drc [spilot::report drc.rpt]
    set conn [spilot::report connectivity.rpt]
    verify_drc -report $drc -limit 100000
    verifyConnectivity -type all -report $conn -error 100000 -warning 100000

    set m [dict create drc_violations [viols $drc] connectivity_violations [viols $conn]]
    set fh [open [spilot::report drc_health.rpt] w]
    fconfigure $fh -encoding utf-8
    puts $fh "drc_health: [dbGet top.name]"
    dict for {name value} $m {
        puts $fh "$name: $value"
    }
    set clean [expr {[dict get $m drc_violations] == 0
        && [dict get $m connectivity_violations] == 0}]
    puts $fh "status: [expr {$clean ? {CLEAN} : {VIOLATIONS}}]"
    close $fh

    dict for {name value} $m {
        spilot::metric $name $value
    }
}
