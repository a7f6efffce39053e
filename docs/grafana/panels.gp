# The dashboard's append panels (docs/grafana/eventstore.json) from a real scrape, drawn with
# gnuplot where no Grafana runs: gnuplot -e "data='FILE.dat'; out='FILE.png'; title='...'" panels.gp
# FILE.dat: the columns scrape.py writes.
set terminal pngcairo size 1100,700 font "DejaVu Sans,10" noenhanced
set output out
set multiplot layout 2,2 title title
set grid xtics ytics lc rgb "#dddddd"
set key top right box opaque
set yrange [0:*]
set xlabel "seconds"

set title "Appends by outcome (eventstore_appends_total)"
set ylabel "appends/s"
plot data using 1:2 with lines lw 2 lc rgb "#2ca02c" title "ok", \
     data using 1:3 with lines lw 2 lc rgb "#ff7f0e" title "version_conflict", \
     data using 1:4 with lines lw 2 lc rgb "#d62728" title "other errors"

set title "Append latency, ok (eventstore_append_seconds)"
set ylabel "ms"
plot data using 1:5 with lines lw 2 lc rgb "#1f77b4" title "p50", \
     data using 1:6 with lines lw 2 lc rgb "#9467bd" title "p99"

set title "Events appended (eventstore_appended_events_total)"
set ylabel "events/s"
plot data using 1:7 with lines lw 2 lc rgb "#17becf" title "events/s"

set title "Appends in flight (eventstore_appends_in_flight)"
set ylabel "appends"
plot data using 1:8 with lines lw 2 lc rgb "#8c564b" title "in flight"
unset multiplot
