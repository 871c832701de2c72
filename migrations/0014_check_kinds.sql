-- Check kinds: besides http(s), a site (or an on-demand task) may be a TCP port, a TLS
-- handshake or a DNS question; the kind is the URL's scheme (checker/probe/kind_urls.py):
--   tcp://host:port[?send=…]   tls://host[:port]   dns://[resolver[:port]]/name[?type=…]
-- The authority must be well formed: a host (a name, an IPv4 address or a bracketed IPv6
-- one) and, where given, a port of 1-5 digits. Replaces the http(s)-only constraints.
ALTER TABLE sites
    DROP CONSTRAINT sites_url_http,
    ADD CONSTRAINT sites_url_form CHECK (
        url ~* '^https?://[^/?#@]'
        OR url ~* '^tcp://([^][/?#@:]+|\[[0-9a-f:.]+\]):[0-9]{1,5}/?(\?[^#]*)?$'
        OR url ~* '^tls://([^][/?#@:]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?/?$'
        OR url ~* '^dns://(([^][/?#@:]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?)?/[^/?#]+(\?[^#]*)?$'
    ),
    -- The HTTP request's options mean nothing to the other kinds: refused rather than
    -- silently ignored. A tls:// check reads nothing, so it has no regex either.
    ADD CONSTRAINT sites_http_options CHECK (
        url ~* '^https?:' OR (method = 'GET' AND headers IS NULL AND max_redirects IS NULL)
    ),
    ADD CONSTRAINT sites_tls_without_regex CHECK (regex IS NULL OR url !~* '^tls:');

ALTER TABLE tasks
    DROP CONSTRAINT tasks_url_http,
    ADD CONSTRAINT tasks_url_form CHECK (
        url ~* '^https?://[^/?#@]'
        OR url ~* '^tcp://([^][/?#@:]+|\[[0-9a-f:.]+\]):[0-9]{1,5}/?(\?[^#]*)?$'
        OR url ~* '^tls://([^][/?#@:]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?/?$'
        OR url ~* '^dns://(([^][/?#@:]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?)?/[^/?#]+(\?[^#]*)?$'
    ),
    ADD CONSTRAINT tasks_http_options CHECK (
        url ~* '^https?:' OR (method = 'GET' AND headers IS NULL)
    ),
    ADD CONSTRAINT tasks_tls_without_regex CHECK (regex IS NULL OR url !~* '^tls:');
