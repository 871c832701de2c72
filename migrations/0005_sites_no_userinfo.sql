-- Credentials do not belong in a URL column that every report and log shows: reject
-- userinfo (https://user:password@host). A site that needs authentication sends it in
-- its request headers.
ALTER TABLE sites ADD CONSTRAINT sites_url_no_userinfo CHECK (url !~ '^[A-Za-z]+://[^/?#]*@');
