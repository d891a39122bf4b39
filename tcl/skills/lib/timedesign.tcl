# timedesign.tcl: reading Innovus' timeDesign summaries, for the skills that run timeDesign.
# Skills load it with: source [file join [file dirname [info script]] lib timedesign.tcl]
# Real Innovus writes <prefix>.summary.gz (the stand-in a plain .summary); both are read.

proc summary_file {dir name} {
    foreach path [list [file join $dir $name.gz] [file join $dir $name]] {
        if {[file isfile $path]} {
            return $path
        }
    }
    error "timeDesign wrote no ${name}(.gz) under $dir"
}

proc read_summary {path} {
    set fh [open $path r]
    if {[string match *.gz $path]} {
        fconfigure $fh -translation binary
        set text [encoding convertfrom utf-8 [zlib gunzip [read $fh]]]
    } else {
        fconfigure $fh -encoding utf-8
        set text [read $fh]
    }
    close $fh
    return $text
}

# The "all" column of a timeDesign summary table row ("WNS (ns)", "TNS (ns)", ...), a number.
proc summary_value {text label path} {
    set re [format {(?n)^\|\s*%s:\|([^|]*)\|} [string map {( \\( ) \\)} $label]]
    if {![regexp $re $text -> value]} {
        error "no '$label:' row in $path"
    }
    set value [string trim $value]
    if {![string is double -strict $value]} {
        error "'$label:' in $path is '$value', not a number"
    }
    return $value
}

proc summary_density {text path} {
    if {![regexp {(?n)^\s*Density:\s*([-+0-9.eE]+)\s*%} $text -> value]} {
        error "no 'Density: N%' line in $path"
    }
    return $value
}
