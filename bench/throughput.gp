# Appends/s and p99 latency vs appends in flight (one client thread), store vs raw ceiling.
# gnuplot -e "datadir='DIR'; out='FILE.png'" bench/throughput.gp
# DIR/curve-scylla.dat and DIR/curve-sqlite.dat: concurrency store_ops raw_ops store_p99 raw_p99
set terminal pngcairo size 1100,460 font "DejaVu Sans,10" noenhanced
set output out
set multiplot layout 1,2
set logscale x 2
set logscale y 10
set grid xtics ytics mytics lc rgb "#dddddd"
set key top left box opaque
set xlabel "appends in flight (one client thread)"

set title "Throughput"
set ylabel "appends/s"
plot datadir."/curve-scylla.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "cluster: store", \
     datadir."/curve-scylla.dat" using 1:3 with linespoints lw 2 pt 6 dt 2 lc rgb "#1f77b4" title "cluster: raw driver", \
     datadir."/curve-sqlite.dat" using 1:2 with linespoints lw 2 pt 5 lc rgb "#d62728" title "SQLite: store", \
     datadir."/curve-sqlite.dat" using 1:3 with linespoints lw 2 pt 4 dt 2 lc rgb "#d62728" title "SQLite: raw loop"

set title "p99 latency"
set ylabel "ms"
plot datadir."/curve-scylla.dat" using 1:4 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "cluster: store", \
     datadir."/curve-scylla.dat" using 1:5 with linespoints lw 2 pt 6 dt 2 lc rgb "#1f77b4" title "cluster: raw driver", \
     datadir."/curve-sqlite.dat" using 1:4 with linespoints lw 2 pt 5 lc rgb "#d62728" title "SQLite: store", \
     datadir."/curve-sqlite.dat" using 1:5 with linespoints lw 2 pt 4 dt 2 lc rgb "#d62728" title "SQLite: raw loop"
unset multiplot
