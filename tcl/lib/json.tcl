# JSON for the session's files: read requests and config, write acks and session files.
#
# Reading uses tcllib's `json` when it loads (unless SPILOT_TCL_JSON=builtin), else the strict
# parser below: inside Innovus tcllib may be absent. Both give plain Tcl values: objects are
# dicts, arrays lists, numbers their text, true/false the words. null is "" here but the word
# null under tcllib (its values carry no types, so that cannot be undone).
#
# Writing builds compact JSON from values that are already encoded: callers wrap strings in
# `str` and numbers in `num`, then nest them with `object` and `array`.

namespace eval ::spilot::json {
    variable backend builtin
    if {!([info exists ::env(SPILOT_TCL_JSON)] && $::env(SPILOT_TCL_JSON) eq "builtin")
            && ![catch {package require json}]} {
        set backend tcllib
    }
    variable maxDepth 512
    variable numRE {^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$}
    # `string map` does the whole escape in C: one table for quotes, backslash and controls.
    variable escapes [list \\ \\\\ \" \\\" \b \\b \f \\f \n \\n \r \\r \t \\t]
    for {set c 0} {$c < 32} {incr c} {
        if {[string first [format %c $c] "\b\f\n\r\t"] < 0} {
            lappend escapes [format %c $c] [format \\u%04x $c]
        }
    }
    unset c
}

proc ::spilot::json::backend {} {
    variable backend
    return $backend
}

proc ::spilot::json::parse {text} {
    variable backend
    if {$backend eq "builtin"} {
        return [Parse $text]
    }
    # json2dict skips what it cannot tokenize and stops after the first value; validate
    # rejects stray characters and many-json2dict exposes a second value.
    set ok [expr {[::json::validate $text] && ![catch {::json::many-json2dict $text} values]}]
    if {$ok && [llength $values] == 1} {
        return [lindex $values 0]
    }
    # The builtin parser says where it broke; tcllib's own words when it sees no fault.
    Parse $text
    if {$ok} {
        error "malformed JSON: [llength $values] values where one was expected"
    }
    error "malformed JSON: [expr {[info exists values] ? $values : {stray characters}}]"
}

# -- the builtin parser ---------------------------------------------------------------------
# Anchored regexps (\A with -start) take whole tokens at a time: far fewer Tcl commands than
# walking characters.

proc ::spilot::json::Parse {text} {
    set i 0
    set value [Value $text i 0]
    regexp -start $i -indices {\A[ \t\n\r]*} $text ws
    set i [expr {[lindex $ws 1] + 1}]
    if {$i < [string length $text]} {
        Fail $text $i "unexpected data after the value"
    }
    return $value
}

proc ::spilot::json::Fail {text i what} {
    set near [string range $text $i [expr {$i + 15}]]
    if {$i >= [string length $text]} {
        set near "end of input"
    } else {
        set near "near \"[string map {\n \\n} $near]\""
    }
    return -code error -errorcode [list SPILOT JSON $i] "malformed JSON at offset $i: $what ($near)"
}

proc ::spilot::json::Value {text iVar depth} {
    upvar 1 $iVar i
    variable maxDepth
    regexp -start $i -indices {\A[ \t\n\r]*} $text ws
    set i [expr {[lindex $ws 1] + 1}]
    set c [string index $text $i]
    if {$c eq "\""} {
        return [String $text i]
    } elseif {$c eq "\{"} {
        if {[incr depth] > $maxDepth} {Fail $text $i "nested deeper than $maxDepth"}
        incr i
        set result [dict create]
        if {[Next $text i] eq "\}"} {
            incr i
            return $result
        }
        while 1 {
            if {[Next $text i] ne "\""} {Fail $text $i "expected a string key"}
            set key [String $text i]
            if {[Next $text i] ne ":"} {Fail $text $i "expected ':'"}
            incr i
            dict set result $key [Value $text i $depth]
            set c [Next $text i]
            incr i
            if {$c eq "\}"} {return $result}
            if {$c ne ","} {Fail $text [incr i -1] "expected ',' or '\}'"}
        }
    } elseif {$c eq "\["} {
        if {[incr depth] > $maxDepth} {Fail $text $i "nested deeper than $maxDepth"}
        incr i
        set result {}
        if {[Next $text i] eq "\]"} {
            incr i
            return $result
        }
        while 1 {
            lappend result [Value $text i $depth]
            set c [Next $text i]
            incr i
            if {$c eq "\]"} {return $result}
            if {$c ne ","} {Fail $text [incr i -1] "expected ',' or '\]'"}
        }
    } elseif {[regexp -start $i -indices \
            {\A-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?} $text m]} {
        set i [expr {[lindex $m 1] + 1}]
        return [string range $text {*}$m]
    }
    foreach {word value} {true true false false null {}} {
        if {[string range $text $i [expr {$i + [string length $word] - 1}]] eq $word} {
            incr i [string length $word]
            return $value
        }
    }
    Fail $text $i [expr {$c eq "" ? "expected a value" : "unexpected character"}]
}

# The next non-blank character; leaves i on it.
proc ::spilot::json::Next {text iVar} {
    upvar 1 $iVar i
    regexp -start $i -indices {\A[ \t\n\r]*} $text ws
    set i [expr {[lindex $ws 1] + 1}]
    return [string index $text $i]
}

proc ::spilot::json::String {text iVar} {
    upvar 1 $iVar i
    if {![regexp -start $i -indices \
            {\A"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"} $text m]} {
        # Walk the string only to say what is wrong with it.
        regexp -start $i -indices {\A"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*} \
            $text m
        set j [expr {[lindex $m 1] + 1}]
        set c [string index $text $j]
        if {$c eq ""} {Fail $text $i "unterminated string"}
        if {$c eq "\\"} {Fail $text $j "bad escape in a string"}
        Fail $text $j "control character in a string"
    }
    set i [expr {[lindex $m 1] + 1}]
    set s [string range $text [expr {[lindex $m 0] + 1}] [expr {[lindex $m 1] - 1}]]
    if {[string first \\ $s] >= 0} {
        # The regexp allowed only JSON escapes, and each means the same to subst.
        set s [subst -nocommands -novariables $s]
    }
    return $s
}

# -- writers ----------------------------------------------------------------------------------

proc ::spilot::json::str {s} {
    variable escapes
    return "\"[string map $escapes $s]\""
}

proc ::spilot::json::num {v} {
    variable numRE
    if {![string is double -strict $v]
            || [catch {expr {double($v)}} d] || !($d == $d) || abs($d) > 1.7976931348623157e308} {
        return -code error -errorcode {SPILOT JSON NUMBER} "not a finite number: [list $v]"
    }
    # Tcl also reads 0x10, " 1", +1, .5 and 1. as numbers; JSON does not.
    if {[regexp $numRE $v]} {
        return $v
    }
    return $d
}

proc ::spilot::json::object {pairs} {
    variable escapes
    set parts {}
    foreach {key value} $pairs {
        lappend parts "\"[string map $escapes $key]\":$value"
    }
    return "\{[join $parts ,]\}"
}

proc ::spilot::json::array {values} {
    return "\[[join $values ,]\]"
}
