#include <string.h>

#include "name.h"
#include "nearby-error.h"
#include "url.h"

#define KEY_URL "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw"
#define KEY_PIN "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw="

static void
test_parse (void)
{
  const struct
  {
    const char *url, *name, *who;
  } cases[] = {
    { "nearby://myproj/fix-login", "myproj/fix-login", NULL },
    { "nearby://myproj/fix-login@alice-laptop", "myproj/fix-login", "alice-laptop" },
    { "nearby://fix-login/", "fix-login", NULL },
    { "nearby://fix-login@alice/", "fix-login", "alice" },
    { "nearby://h%C3%A9llo", "héllo", NULL },
    { "nearby://a%40b@host.local", "a@b", "host.local" },
    { "fix-login@bob", "fix-login", "bob" },
    /* an owner, percent-encoded */
    { "nearby://webapp/fix-login@Alice%20Smith", "webapp/fix-login", "Alice Smith" },
    /* a short code, a key's URL form */
    { "nearby://webapp/fix-login@3PJS-3G8Y", "webapp/fix-login", "3PJS-3G8Y" },
    { "nearby://webapp/fix-login@" KEY_URL, "webapp/fix-login", KEY_URL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (NearbyUrl) url = { 0 };
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].url);
      g_assert_true (nearby_url_parse (cases[i].url, &url, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (url.name, ==, cases[i].name);
      g_assert_cmpstr (url.who, ==, cases[i].who);
      g_assert_null (url.key);
      g_assert_null (url.host);
      g_assert_cmpuint (url.port, ==, 0);
    }
}

static void
test_parse_direct (void)
{
  const struct
  {
    const char *url, *name, *host, *ifname;
    guint16 port;
  } cases[] = {
    { "nearby://" KEY_URL "@10.0.0.2:9419/webapp/fix-login", "webapp/fix-login", "10.0.0.2", NULL,
      9419 },
    /* loopback: the user typed it */
    { "nearby://" KEY_URL "@127.0.0.1:1/x/", "x", "127.0.0.1", NULL, 1 },
    { KEY_URL "=@[2001:db8::1]:65535/a%20b", "a b", "2001:db8::1", NULL, 65535 },
    { "nearby://" KEY_URL "@[fe80::1%25eth0]:9419/p", "p", "fe80::1", "eth0", 9419 },
    { "nearby://" KEY_URL "@alice-laptop.local:9419/p", "p", "alice-laptop.local", NULL, 9419 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (NearbyUrl) url = { 0 };
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].url);
      g_assert_true (nearby_url_parse (cases[i].url, &url, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (url.name, ==, cases[i].name);
      g_assert_null (url.who);
      g_assert_cmpstr (url.key, ==, KEY_PIN);
      g_assert_cmpstr (url.host, ==, cases[i].host);
      g_assert_cmpstr (url.ifname, ==, cases[i].ifname);
      g_assert_cmpuint (url.port, ==, cases[i].port);
    }
}

static void
test_parse_rejects (void)
{
  const struct
  {
    const char *url, *message;
  } bad[] = {
    { "http://x/y", "'http://x/y' is not a nearby:// URL" },
    { "nearby://", NULL },
    { "nearby://a//b", NULL },
    { "nearby://x@", NULL },
    { "nearby://a@b/c", NULL },
    { "nearby://%zz", NULL },
    { "nearby://@alice", NULL },
    { "nearby://x@%00", NULL },
    { "nearby://x@a%0Db", NULL },
    /* direct: no port, bad ports */
    { "nearby://" KEY_URL "@10.0.0.2/x",
      "'nearby://" KEY_URL "@10.0.0.2/x': no port: a direct URL is nearby://KEY@HOST:PORT/NAME" },
    { "nearby://" KEY_URL "@10.0.0.2:/x", NULL },
    { "nearby://" KEY_URL "@10.0.0.2:0/x", NULL },
    { "nearby://" KEY_URL "@10.0.0.2:65536/x", NULL },
    { "nearby://" KEY_URL "@10.0.0.2:9x/x", NULL },
    { "nearby://" KEY_URL "@[2001:db8::1]/x", NULL },
    /* direct: bad hosts */
    { "nearby://" KEY_URL "@2001:db8::1:9/x", NULL },
    { "nearby://" KEY_URL "@[10.0.0.2]:9/x", NULL },
    { "nearby://" KEY_URL "@[fe80::1%25]:9/x", NULL },
    { "nearby://" KEY_URL "@[fe80::1%25e/0]:9/x", NULL },
    { "nearby://" KEY_URL "@:9/x", NULL },
    { "nearby://" KEY_URL "@a b:9/x", NULL },
    /* direct: bad keys (short, a short code, wrong padding bits, bad alphabet) */
    { "nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm@10.0.0.2:9/x",
      "'nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm@10.0.0.2:9/x': the part before '@' "
      "is not a key: nearby://KEY@HOST:PORT/NAME takes the 43-character URL form of the "
      "server's key (see 'git nearby id')" },
    { "nearby://3PJS-3G8Y@10.0.0.2:9/x", NULL },
    { "nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmx@10.0.0.2:9/x", NULL },
    { "nearby://1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJm+@10.0.0.2:9/x", NULL },
    /* direct: empty names */
    { "nearby://" KEY_URL "@10.0.0.2:9/", NULL },
    { "nearby://" KEY_URL "@10.0.0.2:9",
      "'nearby://" KEY_URL "@10.0.0.2:9' does not name a branch: a name cannot be empty" },
    /* shown escaped, on one line */
    { "nearby://x@\x1b[2J\n", "'nearby://x@\\x1B[2J\\x0A': WHO holds a control character" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto (NearbyUrl) url = { 0 };
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", bad[i].url);
      g_assert_false (nearby_url_parse (bad[i].url, &url, &error));
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
      g_assert_null (strchr (error->message, '\n'));
      if (bad[i].message != NULL)
        g_assert_cmpstr (error->message, ==, bad[i].message);
      g_assert_null (url.name);
      g_assert_null (url.who);
      g_assert_null (url.key);
      g_assert_null (url.host);
    }
}

static void
test_build (void)
{
  g_autofree char *v4 = nearby_url_build_http ("10.0.0.2", "eth0", 9419, "/p/main");
  g_autofree char *v6 = nearby_url_build_http ("2001:db8::1", "eth0", 9419, "/p/main");
  g_autofree char *ll = nearby_url_build_http ("fe80::1:2", "eth0", 80, "/p");
  g_autofree char *ll_no_if = nearby_url_build_http ("fe80::1", NULL, 80, "/p");
  g_autofree char *tls = nearby_url_build ("https", "fe80::1", "eth0", 9, "/p");
  g_autofree char *named = nearby_url_build ("https", "alice.local", NULL, 9, "/p");

  g_assert_cmpstr (v4, ==, "http://10.0.0.2:9419/p/main");
  g_assert_cmpstr (v6, ==, "http://[2001:db8::1]:9419/p/main");
  g_assert_cmpstr (ll, ==, "http://[fe80::1:2%25eth0]:80/p");
  g_assert_cmpstr (ll_no_if, ==, "http://[fe80::1]:80/p");
  g_assert_cmpstr (tls, ==, "https://[fe80::1%25eth0]:9/p");
  g_assert_cmpstr (named, ==, "https://alice.local:9/p");
  g_assert_true (nearby_url_is_link_local ("FE80::1"));
  g_assert_false (nearby_url_is_link_local ("fec0::1"));
}

/* Zones go only on link-local IPv6, in brackets as %25ZONE (RFC 6874). */
static void
test_build_zones (void)
{
  const struct
  {
    const char *address, *ifname, *url;
  } cases[] = {
    { "fe80::1", "wlp2s0", "http://[fe80::1%25wlp2s0]:9419/p" },
    { "febf::ffff", "veth-a.1", "http://[febf::ffff%25veth-a.1]:9419/p" },
    { "fe80::1", "", "http://[fe80::1]:9419/p" },
    /* not link-local: the zone is dropped */
    { "fec0::1", "eth0", "http://[fec0::1]:9419/p" },
    { "2001:db8::1", "eth0", "http://[2001:db8::1]:9419/p" },
    { "169.254.1.2", "eth0", "http://169.254.1.2:9419/p" },
    /* IPv4-mapped and -compatible IPv6: brackets, as written, no zone */
    { "::ffff:10.0.0.2", "eth0", "http://[::ffff:10.0.0.2]:9419/p" },
    { "::ffff:169.254.1.2", "eth0", "http://[::ffff:169.254.1.2]:9419/p" },
    /* a host name that looks like an address is not one */
    { "fe80.local", "eth0", "http://fe80.local:9419/p" },
    { "bücher.local", NULL, "http://bücher.local:9419/p" },
  };
  const char *link_local[] = { "fe80::1", "FE80::1", "fe80::1:2:3:4", "febf::1" };
  const char *not_link_local[]
      = { "fec0::1", "fe7f::1", "169.254.1.1",   "::ffff:169.254.1.1", "fe80::1%eth0", "fe80.local",
          "fe8",     "",        "2001:db8::fe80" };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = nearby_url_build_http (cases[i].address, cases[i].ifname, 9419, "/p");

      g_assert_cmpstr (url, ==, cases[i].url);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (link_local); i++)
    g_assert_true (nearby_url_is_link_local (link_local[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (not_link_local); i++)
    {
      g_test_message ("%s", not_link_local[i]);
      g_assert_false (nearby_url_is_link_local (not_link_local[i]));
    }
}

/* A name's path in a URL: what stays literal ('/' and RFC 3986's
 * unreserved characters) and what is %XX; the direct URL built from it
 * parses back to the same name, address and zone. */
static void
test_build_names (void)
{
  const struct
  {
    const char *name, *address, *ifname, *url;
  } cases[] = {
    { "myproj/fix-login", "10.0.0.2", NULL, "nearby://" KEY_URL "@10.0.0.2:9419/myproj/fix-login" },
    { "a b/c d", "10.0.0.2", NULL, "nearby://" KEY_URL "@10.0.0.2:9419/a%20b/c%20d" },
    { "100%/x", "2001:db8::1", NULL, "nearby://" KEY_URL "@[2001:db8::1]:9419/100%25/x" },
    { "héllo/wörld", "fe80::1", "eth0",
      "nearby://" KEY_URL "@[fe80::1%25eth0]:9419/h%C3%A9llo/w%C3%B6rld" },
    { "a@b:c+d~e_f.g", "::ffff:10.0.0.2", NULL,
      "nearby://" KEY_URL "@[::ffff:10.0.0.2]:9419/a%40b%3Ac%2Bd~e_f.g" },
    { "ü", "alice.local", NULL, "nearby://" KEY_URL "@alice.local:9419/%C3%BC" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = nearby_name_to_path (cases[i].name);
      g_autofree char *url
          = nearby_url_build_direct (KEY_URL, cases[i].address, cases[i].ifname, 9419, path);
      g_autofree char *http = nearby_url_build_http (cases[i].address, cases[i].ifname, 9419, path);
      g_auto (NearbyUrl) back = { 0 };
      g_autoptr (GError) error = NULL;

      g_test_message ("%s", cases[i].name);
      g_assert_cmpstr (url, ==, cases[i].url);
      /* the same authority and path as the plain http:// URL */
      g_assert_cmpstr (strchr (url, '@') + 1, ==, http + strlen ("http://"));
      g_assert_true (nearby_url_parse (url, &back, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (back.name, ==, cases[i].name);
      g_assert_cmpstr (back.key, ==, KEY_PIN);
      g_assert_cmpstr (back.host, ==, cases[i].address);
      g_assert_cmpstr (back.ifname, ==, cases[i].ifname);
      g_assert_cmpuint (back.port, ==, 9419);
    }
}

static void
test_usable_address (void)
{
  const char *usable[] = { "10.77.0.1", "192.168.1.2", "2001:db8::1", "fe80::1", "1.0.0.0" };
  const char *unusable[] = { "127.0.0.1",   "127.1.2.3",   "0.0.0.0",          "0.1.2.3",
                             "::1",         "::",          "::ffff:127.0.0.1", "::ffff:0.0.0.0",
                             "::127.0.0.1", "224.0.0.251", "ff02::fb",         "not an address" };

  for (gsize i = 0; i < G_N_ELEMENTS (usable); i++)
    g_assert_true (nearby_url_address_is_usable (usable[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (unusable); i++)
    {
      g_test_message ("%s", unusable[i]);
      g_assert_false (nearby_url_address_is_usable (unusable[i]));
    }
}

/* The line the pages show, which people paste into a shell: names are
 * anyone's on the page of the LAN. */
static void
test_clone_line (void)
{
  const char *key = "sha256//1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw=";
  const char *url_form = "1uWRwY8dDwsYf3kbt7l58Kk12uvyuUsKYg8zNqsNJmw";
  struct
  {
    const char *name;
    const char *line; /* after "git clone nearby://" and before "@KEY " */
    const char *dir;
  } cases[] = {
    { "myproj/main", "myproj/main", "main" },
    { "fix login", "fix%20login", "'fix login'" },
    { "x/$(reboot)", "x/%24%28reboot%29", "'$(reboot)'" },
    { "x/it's", "x/it%27s", "'it'\\''s'" },
    /* An option to git clone, were it not a path. */
    { "x/--config=core.fsmonitor=reboot", "x/--config%3Dcore.fsmonitor%3Dreboot",
      "./--config=core.fsmonitor=reboot" },
    { "-x", "-x", "./-x" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = nearby_clone_line (cases[i].name, key);
      g_autofree char *want
          = g_strdup_printf ("git clone nearby://%s@%s %s", cases[i].line, url_form, cases[i].dir);

      g_assert_cmpstr (line, ==, want);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/url/parse", test_parse);
  g_test_add_func ("/url/parse-direct", test_parse_direct);
  g_test_add_func ("/url/parse-rejects", test_parse_rejects);
  g_test_add_func ("/url/build-http", test_build);
  g_test_add_func ("/url/build-zones", test_build_zones);
  g_test_add_func ("/url/build-names", test_build_names);
  g_test_add_func ("/url/usable-address", test_usable_address);
  g_test_add_func ("/url/clone-line", test_clone_line);
  return g_test_run ();
}
