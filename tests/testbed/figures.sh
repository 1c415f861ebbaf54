# Sourced by the demo, not run: the demo's figures, drawn by gnuplot (pngcairo) from the data
# files the demo writes beside them; the same numbers its tables print.
#
# A table's rows, one per enforcer and VM (whitespace-separated):
#   enforcer vm due_mbps due_kpps got_mbps got_kpps
# (due: what the SLA lets that VM's traffic have; kpps columns may be "-" where the figure
# has only Mbit/s). An enforcer with no rows (a part run under two of them) is "-" too. bars_data turns them into one line per VM, the enforcers side by side:
#   vm due_mbps none_mbps netback_mbps netfront_mbps due_kpps none_kpps netback_kpps netfront_kpps

bars_data() { # ROWS > DAT
	awk '
	BEGIN { print "# vm due_mbps none_mbps netback_mbps netfront_mbps due_kpps none_kpps netback_kpps netfront_kpps" }
	!($2 in seen) { seen[$2] = 1; order[++n] = $2 }
	{ due_m[$2] = $3; due_k[$2] = $4; m[$2, $1] = $5; k[$2, $1] = $6 }
	END {
		for (i = 1; i <= n; i++) {
			v = order[i]
			printf "%s %s %s %s %s %s %s %s %s\n", v, due_m[v], or_dash(m[v, "none"]),
			       or_dash(m[v, "netback"]), or_dash(m[v, "netfront"]), due_k[v],
			       or_dash(k[v, "none"]), or_dash(k[v, "netback"]), or_dash(k[v, "netfront"])
		}
	}
	function or_dash(x) { return x == "" ? "-" : x }' "$1"
}

# Grouped bars, the paper's Fig. 2, 3 and 5: per VM, what the SLA allows (hollow) and what it
# got under none, netback and netfront; Mbit/s, and kpps beside it unless ONLY_MBPS is 1.
bars_plot() { # DAT PNG TITLE ONLY_MBPS
	_size=1000,420 _cols=2 _kpps=""
	if [ "$4" = 1 ]; then _size=560,420 _cols=1; else _kpps=$(bars_panel "$1" 6 kpps); fi
	gnuplot <<GP
set terminal pngcairo size $_size font "sans,10"
set output "$2"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.9 border rgb "black"
set boxwidth 0.9
set key outside bottom center horizontal font ",9"
set grid ytics lc rgb "#dddddd"
set yrange [0:*]
set datafile missing "-"
set offsets 0, 0, graph 0.05, 0
set multiplot layout 1,$_cols title "$3" font ",11"
$(bars_panel "$1" 2 Mbit/s)
$_kpps
unset multiplot
GP
}
# The enforcers' titles: BAR_TITLES, "|"-separated, or none, netback and netfront; an
# enforcer whose title is empty has no bars (a part that ran without it).
bars_panel() { # DAT FIRST_COLUMN YLABEL: the SLA's hollow bar and the enforcers'
	_t=${BAR_TITLES:-none|netback|netfront}
	printf 'set ylabel "%s"\n' "$3"
	printf 'plot "%s" using %s:xtic(1) title "SLA allows" fs empty border rgb "black" lc rgb "black"' \
		"$1" "$2"
	_i=1
	for _c in 9e9e9e f28e2b 4e79a7; do
		_title=$(echo "$_t" | cut -d'|' -f"$_i")
		[ -z "$_title" ] ||
			printf ', \\\n     "" using %s title "%s" lc rgb "#%s"' "$(($2 + _i))" "$_title" "$_c"
		_i=$((_i + 1))
	done
	echo
}

# Each VM's rate, second by second (from GET /vms/{id}/stats), through the events in EVENTS
# (lines: seconds label). DAT: a block per VM, "# name" then "t_s Mbit/s" lines, blocks apart
# by two blank lines (gnuplot's index).
timeline_plot() { # DAT EVENTS PNG TITLE
	_names=$(sed -n 's/^# //p' "$1" | tr '\n' ' ')
	gnuplot <<GP
set terminal pngcairo size 900,420 font "sans,10"
set output "$3"
set title "$4" font ",11"
set xlabel "seconds"
set ylabel "Mbit/s sent"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid lc rgb "#dddddd"
set key outside right
set linetype 1 lc rgb "#4e79a7" lw 2
set linetype 2 lc rgb "#f28e2b" lw 2
set linetype 3 lc rgb "#59a14f" lw 2
set linetype 4 lc rgb "#e15759" lw 2
$(awk '{ t = $1; $1 = ""; printf "set arrow from %s, graph 0 to %s, graph 1 nohead dt 2 lc rgb \"#555555\"\nset label \"%s\" at %s, graph 0.97 offset 0.5,0 font \",9\"\n", t, t, substr($0, 2), t }' "$2")
names = "$_names"
plot for [i=1:words(names)] "$1" index (i - 1) using 1:2 with steps lt i title word(names, i)
GP
}
