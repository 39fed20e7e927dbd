# bench/plot.gp - the lookup latency chart of tools/bench.sh (make bench).
#
#   gnuplot -e "datafile='lookup.dat'; outfile='lookup.png'; ncols=8; nrows=3; subtitle='...'" \
#           bench/plot.gp
#
# datafile: whitespace-separated, a header line naming the columns, then one
# line per region size: the size's label, then the median ns per lookup of
# each system (uniformly random hits), the floor last; "-" where missing.
# Drawn as a clustered histogram on a log scale, one cluster per size.

if (!exists("datafile")) datafile = 'lookup.dat'
if (!exists("outfile")) outfile = 'lookup.png'
if (!exists("subtitle")) subtitle = ''

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 1200,700 enhanced font "sans,11"
} else {
	set terminal png size 1200,700
}
set output outfile

set title "mxcache: median lookup latency, uniformly random hits".(subtitle eq '' ? '' : "\n{/*0.8 ".subtitle."}")
set datafile missing "-"
# the first line names the columns, in every plot (so $0 counts data lines)
set key autotitle columnheader
set key outside right top vertical Left reverse noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border rgb "#404040"
set boxwidth 1.0 relative
set logscale y 10
set yrange [1:*]
set ylabel "ns per lookup (median, log scale)"
set xlabel "entries in the region (and in every other system)"
set grid ytics mytics lc rgb "#b0b0b0" dt 3
set mytics 10
set xtics nomirror scale 0
set ytics nomirror
set format y "%g"

# one colour per system, the floor grey and hatched
array colour[7] = ["#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#909090"]
# ncols, nrows: the data file's columns and data lines (tools/bench.sh
# passes them)
if (!exists("ncols")) ncols = 8
if (exists("nrows")) set xrange [-0.6 : nrows - 0.4]
nsys = ncols - 1
# with "gap 1", a cluster of nsys bars is nsys + 1 bar widths wide
bw = 1.0 / (nsys + 1)

plot for [c = 2:ncols - 1] datafile using c:xtic(1) lc rgb colour[(c - 2) % 7 + 1], \
     datafile using ncols:xtic(1) lc rgb colour[7] fs pattern 4 border rgb "#404040", \
     for [c = 2:ncols] datafile using ($0 + (c - 2 - (nsys - 1) / 2.0) * bw):(column(c)):\
	(sprintf(column(c) >= 100 ? "%.0f" : "%.1f", column(c))) \
	with labels rotate by 90 left offset 0,0.4 font ",8" notitle
