# Skill restore_design: load a design database into the session (restoreDesign DB TOP).
# A design already in memory is freed first. A database that cannot be restored is
# RESTORE_FAIL, and no design is loaded afterwards.
set db [spilot::arg design]
set top [spilot::arg top]

if {[dbGet top] ne "0x0"} {
    freeDesign
}
if {[catch {restoreDesign $db $top} message]} {
    spilot::fail RESTORE_FAIL "restoreDesign $db $top failed: $message"
} else {
    set insts [dbGet top.insts]
    set count [expr {$insts eq "0x0" ? 0 : [llength $insts]}]

    set fh [open [spilot::report restore_design.rpt] w]
    fconfigure $fh -encoding utf-8
    puts $fh "design: $db"
    puts $fh "top: [dbGet top.name]"
    puts $fh "instance_count: $count"
    close $fh

    spilot::log "restore_design: $top from $db ($count instances)"
    spilot::metric instance_count $count
}
