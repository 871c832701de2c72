-- TLS certificates by when they expire: the statements of webmon.core.certificates. The
-- checker stores each check's certificate expiry (`check_results.tls_expires_at`), and
-- the writer keeps the latest in `site_status.tls_expires_at`.

-- expiring --
-- The sites whose latest certificate expires within %(days)s days (or has expired),
-- soonest first.
SELECT st.site_id, s.name, s.url, st.tls_expires_at AS expires_at, st.checked_at
  FROM site_status st
  JOIN sites s ON s.id = st.site_id
 WHERE st.tls_expires_at IS NOT NULL
   AND st.tls_expires_at < now() + %(days)s::integer * interval '1 day'
 ORDER BY st.tls_expires_at, st.site_id
 LIMIT %(limit)s
