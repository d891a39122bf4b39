# The Innovus stand-in: Innovus' command line and the Innovus commands the shipped skills use,
# over a design database in JSON (fixtures/innovus/*.json). Not Cadence software.
#
#   tclsh standin/innovus.tcl [-no_gui|-nowin] [-batch] [-init FILE] [-log PREFIX] [-nolog]
#                             [-overwrite] [-version]
#
# Like Innovus: -version prints the version line and exits 0; an unknown option is an **ERROR
# on stderr and exit 1; -log PREFIX writes PREFIX.log and PREFIX.cmd (PREFIX.log1/.cmd1,
# PREFIX.log2..., when they exist and -overwrite is absent; a PREFIX ending in ".log" loses it);
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


source [file join $::standin::HERE database.tcl]
source [file join $::standin::HERE commands.tcl]

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
    # As Innovus numbers them: innovus.log, then innovus.log1, innovus.log2, ... (and .cmdN).
    set n ""
    if {!$overwrite} {
        set n 0
        while {[file exists $prefix.log[expr {$n ? $n : ""}]]
                || [file exists $prefix.cmd[expr {$n ? $n : ""}]]} {
            incr n
        }
        if {$n == 0} {
            set n ""
        }
    }
    return [list $prefix.log$n $prefix.cmd$n]
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
