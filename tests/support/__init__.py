"""What the tests share; conftest.py only turns these into fixtures.

services   the PostgreSQL and broker a session uses, a database per test
db         counting and arranging rows: count, scalar, add_sites
settings   settings models from a test's WEBMON_* variables
topics     reading a topic back, exactly
slots      which (site, slot) pairs were emitted and which are stored
processes  webmon's real processes, their structured stop summaries, wait_for
targets    the hostile local HTTP(S) target server
tls_proxy  a TLS front for the broker
netns      regions as network namespaces, with relay (into them) and nstarget (their target)
regional   sites, checkers and checks of the region tests
schema     a comparable fingerprint of a database's schema
"""
