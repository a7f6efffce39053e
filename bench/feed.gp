# The feed (bench feed): delivery delay from an append's acknowledgement to a live subscriber
# by percentile, and the feed's ratios against their targets.
# gnuplot -e "datadir='DIR'; out='FILE.png'" bench/feed.gp
# DIR/feed-delivery.dat: percentile cluster_ms sqlite_ms        (percentile: p50 p95 p99 max)
# DIR/feed-ratios.dat:   "name" cluster sqlite target           (NaN where a backend has no figure)
set terminal pngcairo size 1100,460 font "DejaVu Sans,10" noenhanced
set output out
set multiplot layout 1,2
set grid ytics mytics lc rgb "#dddddd"
set key top right box opaque
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9

set title "Delivery delay, ack to live subscriber (at half the append ceiling)"
set ylabel "ms"
set logscale y 10
set yrange [1:10000]
set arrow 1 from graph 0, first 1000 to graph 1, first 1000 nohead dt 2 lw 2 lc rgb "#1f77b4" front
set arrow 2 from graph 0, first 50 to graph 1, first 50 nohead dt 2 lw 2 lc rgb "#d62728" front
plot datadir."/feed-delivery.dat" using 2:xtic(1) lc rgb "#1f77b4" title "cluster", \
     "" using 3 lc rgb "#d62728" title "SQLite", \
     NaN with lines dt 2 lw 2 lc rgb "#1f77b4" title "cluster target: p99 < 1 s", \
     NaN with lines dt 2 lw 2 lc rgb "#d62728" title "SQLite target: p99 < 50 ms"
unset arrow 1
unset arrow 2

set title "Ratios, and the target each must reach"
set ylabel "ratio"
unset logscale y
set yrange [0:1.4]
plot datadir."/feed-ratios.dat" using 2:xtic(1) lc rgb "#1f77b4" title "cluster", \
     "" using 3 lc rgb "#d62728" title "SQLite", \
     "" using 0:4 with points pt 2 ps 2.5 lw 3 lc rgb "black" title "target"
unset multiplot
