# Shared by bench/kql.sh and bench/parsers.sh (sourced; NH and WORK set by the caller).

# One timed run of query $1 over lake $2 with domain list $3: nethunt's own figure from
# "N rows in X.XXXs" (registration, footers, planning, execution, output).
timed_run() {
  "$NH" run "$1" --data "$2" --domains "$3" --output "$WORK/out.csv" 2>&1 >/dev/null |
    sed -n 's/.* in \([0-9.]*\)s$/\1/p' | tail -1
}

# The median of the numbers on stdin, one per line.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
