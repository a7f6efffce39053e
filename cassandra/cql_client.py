"""Tiny CQL client for scripts/local-cassandra (cassandra-driver)."""
import argparse, logging, os, ssl, sys

logging.basicConfig(level=logging.CRITICAL)
from cassandra import ConsistencyLevel
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.policies import WhiteListRoundRobinPolicy, DCAwareRoundRobinPolicy, FallthroughRetryPolicy
from cassandra.query import SimpleStatement


def split_statements(text):
    out, cur, quote, i = [], [], None, 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == quote:
                if i + 1 < len(text) and text[i + 1] == quote:
                    cur.append(text[i + 1]); i += 1
                else:
                    quote = None
        elif c in "'\"":
            quote = c; cur.append(c)
        elif c == '$' and text[i:i + 2] == '$$':
            j = text.find('$$', i + 2)
            j = len(text) if j < 0 else j + 2
            cur.append(text[i:j]); i = j; continue
        elif c == ';':
            s = ''.join(cur).strip()
            words = s.upper().split()
            if words[:1] == ['BEGIN'] and words[-2:] != ['APPLY', 'BATCH']:
                cur.append(c)  # a statement inside BEGIN ... APPLY BATCH
            else:
                if s: out.append(s)
                cur = []
        else:
            cur.append(c)
        i += 1
    s = ''.join(cur).strip()
    if s: out.append(s)
    return out


def fmt(v):
    if v is None: return 'null'
    if isinstance(v, (bytes, bytearray)): return '0x' + v.hex()
    return str(v)


def main():
    p = argparse.ArgumentParser(prog='local-cassandra cql')
    p.add_argument('--host', help='send every statement to this node only (coordinator)')
    p.add_argument('--consistency', default='QUORUM')
    p.add_argument('--serial-consistency', default='SERIAL')
    p.add_argument('-k', '--keyspace')
    p.add_argument('-u', '--username', default=os.environ.get('SCYLLA_USERNAME') or None)
    p.add_argument('-p', '--password', default=os.environ.get('SCYLLA_PASSWORD') or None)
    p.add_argument('--ca-file', default=os.environ.get('SCYLLA_CA_FILE') or None)
    p.add_argument('--no-tls', action='store_true', help='plaintext even if SCYLLA_CA_FILE is set')
    p.add_argument('--timeout', type=float, default=15.0)
    p.add_argument('--probe', action='store_true', help='quiet: exit 0 iff the node answers')
    p.add_argument('-f', '--file', help="read statements from a file ('-' = stdin)")
    p.add_argument('statements', nargs='*')
    a = p.parse_args()

    text = ';'.join(a.statements)
    if a.file:
        text += ';' + (sys.stdin.read() if a.file == '-' else open(a.file).read())
    stmts = split_statements(text)
    if a.probe and not stmts:
        stmts = ['SELECT release_version FROM system.local']
    if not stmts:
        p.error('no statement given')

    hosts = [a.host] if a.host else (os.environ.get('SCYLLA_HOSTS') or '127.0.0.1').split(',')
    kw = {}
    if a.username:
        kw['auth_provider'] = PlainTextAuthProvider(a.username, a.password or '')
    if a.ca_file and not a.no_tls:
        ctx = ssl.create_default_context(cafile=a.ca_file)  # verifies chain and IP SAN
        kw['ssl_context'] = ctx  # the driver checks each node's address against the SANs
    lb = WhiteListRoundRobinPolicy([a.host]) if a.host else DCAwareRoundRobinPolicy(local_dc='datacenter1')
    prof = ExecutionProfile(load_balancing_policy=lb, request_timeout=a.timeout,
                            retry_policy=FallthroughRetryPolicy(),
                            consistency_level=ConsistencyLevel.name_to_value[a.consistency.upper()],
                            serial_consistency_level=ConsistencyLevel.name_to_value[a.serial_consistency.upper()])
    cluster = Cluster(contact_points=hosts, port=9042, execution_profiles={EXEC_PROFILE_DEFAULT: prof},
                      connect_timeout=min(a.timeout, 5.0), control_connection_timeout=min(a.timeout, 5.0),
                      protocol_version=5, **kw)
    rc = 0
    try:
        session = cluster.connect(a.keyspace)
        for s in stmts:
            try:
                rs = session.execute(SimpleStatement(s), timeout=a.timeout)
            except Exception as e:  # report and go on: the exit status says it failed
                rc = 1
                if not a.probe:
                    print('error: %s: %s' % (type(e).__name__, e), file=sys.stderr)
                continue
            if a.probe:
                continue
            names = rs.column_names or []
            if names:
                rows = list(rs)
                print(' | '.join(names))
                for r in rows:
                    print(' | '.join(fmt(v) for v in r))
                print('(%d rows)' % len(rows))
    except NoHostAvailable as e:
        rc = 2
        if not a.probe:
            errs = '; '.join('%s: %s' % (h, err) for h, err in e.errors.items())
            print('error: cannot connect: %s' % (errs or e), file=sys.stderr)
    except Exception as e:
        rc = 2
        if not a.probe:
            print('error: %s: %s' % (type(e).__name__, e), file=sys.stderr)
    finally:
        cluster.shutdown()
    return rc


if __name__ == '__main__':
    sys.exit(main())
