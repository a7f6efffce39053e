# shellcheck shell=bash
# The auth step of scripts/reliability (password authentication and client TLS), sourced by it after
# scripts/lib/reliability_cluster.sh: it uses the settings, helpers and cluster life cycle of both.
# --- authentication and TLS ----------------------------------------------------------------
AUTH_KEYSPACE=${RELIABILITY_AUTH_KEYSPACE:-eventstore_reliability_auth}
AUTH_ID=0de30000-0000-8000-8000-0000000000e1
AUTH_MAX_MS=${RELIABILITY_AUTH_MAX_MS:-10000} AUTH_MAX_CONNECTS=${RELIABILITY_AUTH_MAX_CONNECTS:-4}
auth_user='' auth_password='' auth_ca='' auth_wrap=()

# auth_run NAME PASSWORD CA_FILE ARGS...: the CLI against the auth+TLS node with the seed's
# variables (user $auth_user, PASSWORD; TLS trusting CA_FILE, plaintext when it is ''), inside
# "${auth_wrap[@]}"; stdout and stderr in $OUT/auth-NAME.out/.err. Sets RC and MS (wall time).
# The password goes through the environment of a subshell, never on a command line.
auth_run() {
  local name=$1 password=$2 ca=$3; shift 3
  local t0; t0=$(date +%s%N)
  (
    unset EVENTSTORE_STORE SCYLLA_HOSTSELECTIONPOLICY SCYLLA_CA_FILE
    export SCYLLA_HOSTS=127.0.0.1 SCYLLA_KEYSPACE=$AUTH_KEYSPACE SCYLLA_USERNAME=$auth_user SCYLLA_PASSWORD=$password
    if [[ -n $ca ]]; then export SCYLLA_CA_FILE=$ca; fi
    exec timeout --kill-after=10 120 "${auth_wrap[@]}" "$BUILD_DIR/bin/eventstore" "$@"
  ) </dev/null >"$OUT/auth-$name.out" 2>"$OUT/auth-$name.err"
  RC=$?
  MS=$((($(date +%s%N) - t0) / 1000000))
  auth_wrap=()
}
# One "eventstore: error:" line on stderr and nothing on stdout (the CLI's contract for errors).
auth_one_error_line() {
  [[ $(wc -l <"$OUT/auth-$1.err") == 1 ]] && grep -q '^eventstore: error: ' "$OUT/auth-$1.err" && [[ ! -s $OUT/auth-$1.out ]]
}
auth_connects() { # NAME: connect(2) calls to port 9042 in $OUT/auth-NAME.strace
  local n; n=$(grep -c 'htons(9042)' "$OUT/auth-$1.strace" 2>/dev/null)
  echo "${n:-0}"
}
auth_head() { # STREAM_ID: the head of that stream, read with the trusted CA and the right password
  auth_run "head-$1" "$auth_password" "$auth_ca" head --context auth --type check --id "$1"
  ((RC == 0)) && cat "$OUT/auth-head-$1.out" || echo "(head failed: exit $RC: $(head -c 300 "$OUT/auth-head-$1.err"))"
}

# auth_start_node: one node with password authentication and client TLS (stopped at exit); sets auth_user,
# auth_password and auth_ca from its `env`.
auth_start_node() {
  rm -f "$OUT"/auth-*
  note "starting a single node with password authentication and client TLS (scripts/local-cassandra start --auth --tls)"
  # Its stdout holds the password: not kept.
  if ! timeout 900 "$LC" start --auth --tls >/dev/null 2>"$OUT/auth-start.log"; then
    fail "auth: scripts/local-cassandra start --auth --tls failed -- see $OUT/auth-start.log"; "$LC" stop >/dev/null 2>&1
    return 1
  fi
  started_cluster=1
  trap stop_cluster EXIT
  local env_text; env_text=$("$LC" env 2>>"$OUT/auth-start.log")
  auth_user=$(sed -n 's/^export SCYLLA_USERNAME=//p' <<<"$env_text")
  auth_password=$(sed -n 's/^export SCYLLA_PASSWORD=//p' <<<"$env_text")
  auth_ca=$(sed -n 's/^export SCYLLA_CA_FILE=//p' <<<"$env_text")
  if [[ -z $auth_user || -z $auth_password || -z $auth_ca ]]; then
    fail "auth: scripts/local-cassandra env gave no user, password or CA file"; stop_cluster; started_cluster=0
    return 1
  fi
}

# a. A wrong password: exit 5, one error line, quickly, and no retry storm. The connects the
#    process makes to port 9042 are counted with strace: a retry loop would show as many.
auth_wrong_password() {
  local wrong=$auth_password-Wr0ng
  auth_run wrong-password "$wrong" "$auth_ca" head --context auth --type check --id "$AUTH_ID"
  local ms_head=$MS rc_head=$RC
  auth_run wrong-password-schema "$wrong" "$auth_ca" schema apply --replication-factor 1
  local ms_schema=$MS rc_schema=$RC
  auth_wrap=(strace -f -qq -e trace=connect -o "$OUT/auth-wrong-password.strace")
  auth_run wrong-password-strace "$wrong" "$auth_ca" head --context auth --type check --id "$AUTH_ID"
  local rc_strace=$RC connects; connects=$(auth_connects wrong-password)
  if ((rc_head == 5 && rc_schema == 5 && rc_strace == 5)) && auth_one_error_line wrong-password &&
     auth_one_error_line wrong-password-schema && ((ms_head < AUTH_MAX_MS && ms_schema < AUTH_MAX_MS)) &&
     ((connects >= 1 && connects <= AUTH_MAX_CONNECTS)); then
    record "PASS auth wrong password: head and schema apply exit 5 in $ms_head ms and $ms_schema ms, one stderr line ($(cat "$OUT/auth-wrong-password.err")); $connects TCP connect(s) to port 9042 (strace; at most $AUTH_MAX_CONNECTS)"
  else
    fail "auth wrong password: head exit $rc_head in $ms_head ms, schema apply exit $rc_schema in $ms_schema ms, under strace exit $rc_strace (want 5, one 'eventstore: error:' line, under $AUTH_MAX_MS ms); $connects TCP connects to port 9042 (want 1..$AUTH_MAX_CONNECTS) -- see $OUT/auth-wrong-password*"
  fi
}

# b. TLS with the cluster's CA and the right password: schema apply, append, read, head.
auth_tls_with_cluster_ca() {
  local id_ok=0de30000-0000-8000-8000-0000000000e2
  auth_run schema "$auth_password" "$auth_ca" schema apply --replication-factor 1
  local rc_schema_ok=$RC
  auth_run append "$auth_password" "$auth_ca" append --context auth --type check --id "$id_ok" --expected-version no-stream \
    --event Checked --data '{"n":1}' --metadata '{"by":"reliability"}' --event Checked --data '{"n":2}'
  local rc_append=$RC
  auth_run read "$auth_password" "$auth_ca" read --context auth --type check --id "$id_ok"
  local rc_read=$RC lines; lines=$(grep -c '"event_type":"Checked"' "$OUT/auth-read.out")
  local head_ok; head_ok=$(auth_head "$id_ok")
  if ((rc_schema_ok == 0 && rc_append == 0 && rc_read == 0 && lines == 2)) && [[ $head_ok == 2 ]] &&
     grep -q '"next_expected_version":2' "$OUT/auth-append.out" && grep -q '"event_data":{"n":2}' "$OUT/auth-read.out"; then
    record "PASS auth TLS with the cluster's CA: schema apply, append of 2 events, read (2 events), head ($head_ok)"
  else
    fail "auth TLS with the cluster's CA: schema apply exit $rc_schema_ok, append exit $rc_append, read exit $rc_read ($lines events), head '$head_ok' -- see $OUT/auth-schema.err, auth-append.err, auth-read.err"
  fi
}

# c. TLS with a CA the node's certificate does not come from: refused quickly without
#    retries (connects counted as in a.), one clear line (it
#    names the certificate and the CA setting), nothing written (checked through the trusted CA).
auth_untrusted_ca() {
  local id_untrusted=0de30000-0000-8000-8000-0000000000e3
  local untrusted; untrusted=$(mktemp -d)
  if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=reliability untrusted CA" \
       -keyout "$untrusted/ca.key" -out "$untrusted/ca.crt" >/dev/null 2>&1; then
    auth_wrap=(strace -f -qq -e trace=connect -o "$OUT/auth-untrusted-ca.strace")
    auth_run untrusted-ca "$auth_password" "$untrusted/ca.crt" append --context auth --type check --id "$id_untrusted" \
      --expected-version any --event Untrusted
    local rc_untrusted=$RC ms_untrusted=$MS head_untrusted; head_untrusted=$(auth_head "$id_untrusted")
    local connects_untrusted; connects_untrusted=$(auth_connects untrusted-ca)
    if ((rc_untrusted != 0 && ms_untrusted < AUTH_MAX_MS && connects_untrusted >= 1 && connects_untrusted <= AUTH_MAX_CONNECTS)) &&
       auth_one_error_line untrusted-ca && grep -qi 'certificate' "$OUT/auth-untrusted-ca.err" &&
       grep -q 'SCYLLA_CA_FILE' "$OUT/auth-untrusted-ca.err" &&
       [[ $head_untrusted == 0 ]]; then
      record "PASS auth untrusted CA: append refused, exit $rc_untrusted in $ms_untrusted ms under strace, $connects_untrusted TCP connect(s) to port 9042 ($(cat "$OUT/auth-untrusted-ca.err")); nothing written (head $head_untrusted)"
    else
      fail "auth untrusted CA: exit $rc_untrusted in $ms_untrusted ms, $connects_untrusted TCP connects (want 1..$AUTH_MAX_CONNECTS), stderr '$(head -c 500 "$OUT/auth-untrusted-ca.err")', head afterwards '$head_untrusted' (want non-zero, one line naming the certificate and the CA file setting, head 0)"
    fi
  else
    fail "auth untrusted CA: openssl could not make a throw-away CA"
  fi
  rm -rf "$untrusted"
}

# d. A plaintext client to the TLS-only node: refused quickly without retries, one line that
#    names TLS as the likely cause, nothing written.
auth_plaintext_client() {
  local id_plain=0de30000-0000-8000-8000-0000000000e4
  auth_wrap=(strace -f -qq -e trace=connect -o "$OUT/auth-plaintext.strace")
  auth_run plaintext "$auth_password" "" append --context auth --type check --id "$id_plain" --expected-version any --event Plain
  local rc_plain=$RC ms_plain=$MS head_plain; head_plain=$(auth_head "$id_plain")
  local connects_plain; connects_plain=$(auth_connects plaintext)
  if ((rc_plain != 0 && ms_plain < AUTH_MAX_MS && connects_plain >= 1 && connects_plain <= AUTH_MAX_CONNECTS)) && auth_one_error_line plaintext &&
     grep -q 'TLS' "$OUT/auth-plaintext.err" && [[ $head_plain == 0 ]]; then
    record "PASS auth plaintext client to the TLS node: refused, exit $rc_plain in $ms_plain ms under strace, $connects_plain TCP connect(s) to port 9042 ($(cat "$OUT/auth-plaintext.err")); nothing written (head $head_plain)"
  else
    fail "auth plaintext client: exit $rc_plain in $ms_plain ms, $connects_plain TCP connects (want 1..$AUTH_MAX_CONNECTS), stderr '$(head -c 500 "$OUT/auth-plaintext.err")', head afterwards '$head_plain' (want non-zero, one line that names TLS, head 0)"
  fi
}

# e. The password (and the wrong one, which starts with it) in none of this step's outputs.
auth_password_in_no_output() {
  local leaks; leaks=$(grep -rlF -- "$auth_password" "$OUT"/auth-* "$SUMMARY" 2>/dev/null)
  local files; files=$(find "$OUT" -maxdepth 1 -name 'auth-*' | wc -l)
  if [[ -z $leaks ]]; then record "PASS auth password in no output: $files files of this step searched (stdout, stderr, strace, start log) and the summary"
  else fail "auth: the password appears in $(tr '\n' ' ' <<<"$leaks")"; fi
}

step_auth() {
  need_binaries eventstore || return
  has_scylla auth || return
  local tool
  for tool in strace openssl; do
    command -v "$tool" >/dev/null || { fail "auth: $tool is missing (scripts/install-deps --cluster)"; return; }
  done
  # The cluster of the 'cluster' step (this script's) is stopped first; anyone else's is left alone.
  if ((started_cluster)); then stop_cluster; started_cluster=0; fi
  if "$LC" status >"$OUT/auth-status.log" 2>&1; then
    record "SKIP auth: a local cluster started by someone else is running ($(head -1 "$OUT/auth-status.log")); it is left alone"
    return
  fi
  if ss -ltnH 'sport = :9042' 2>/dev/null | grep -q .; then
    record "SKIP auth: port 9042 is in use by something other than scripts/local-cassandra ($(ss -ltnH 'sport = :9042' | awk '{print $4}' | tr '\n' ' '))"
    return
  fi
  auth_start_node || return
  auth_wrong_password
  auth_tls_with_cluster_ca
  auth_untrusted_ca
  auth_plaintext_client
  auth_password_in_no_output

  note "stopping the auth+TLS node"
  stop_cluster
  started_cluster=0
  auth_password=''
}
