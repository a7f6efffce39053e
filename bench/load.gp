# Median time to load an aggregate vs the length of its stream, snapshots off and on.
# gnuplot -e "datadir='DIR'; out='FILE.png'" bench/load.gp
# DIR/load-scylla.dat and DIR/load-sqlite.dat: events off_median on_median off_p95 on_p95
set terminal pngcairo size 800,500 font "DejaVu Sans,10" noenhanced
set output out
set logscale xy 10
set grid xtics ytics mytics lc rgb "#dddddd"
set key top left box opaque
set title "Aggregate load time (median of repeated loads)"
set xlabel "events in the stream"
set ylabel "ms"
set format x "10^{%L}"
set format x "%.0s%c"
plot datadir."/load-scylla.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "cluster: no snapshots", \
     datadir."/load-scylla.dat" using 1:3 with linespoints lw 2 pt 6 dt 2 lc rgb "#1f77b4" title "cluster: snapshots", \
     datadir."/load-sqlite.dat" using 1:2 with linespoints lw 2 pt 5 lc rgb "#d62728" title "SQLite: no snapshots", \
     datadir."/load-sqlite.dat" using 1:3 with linespoints lw 2 pt 4 dt 2 lc rgb "#d62728" title "SQLite: snapshots"
