# database.tcl: the stand-in's design database: a JSON file (fixtures/innovus/*.json) loaded,
# checked and turned into dbGet objects. Sourced by innovus.tcl.

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
