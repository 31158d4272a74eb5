#include "nearby-error.h"
#include "url.h"

static void
test_parse (void)
{
  const struct
  {
    const char *url, *name, *host;
  } cases[] = {
    { "nearby://myproj/fix-login", "myproj/fix-login", NULL },
    { "nearby://myproj/fix-login@alice-laptop", "myproj/fix-login", "alice-laptop" },
    { "nearby://fix-login/", "fix-login", NULL },
    { "nearby://h%C3%A9llo", "héllo", NULL },
    { "nearby://a%40b@host.local", "a@b", "host.local" },
    { "fix-login@bob", "fix-login", "bob" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *host = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (nearby_url_parse_nearby (cases[i].url, &name, &host, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (name, ==, cases[i].name);
      g_assert_cmpstr (host, ==, cases[i].host);
    }
}

static void
test_parse_rejects (void)
{
  const char *bad[] = { "http://x/y",  "nearby://",      "nearby://a//b",
                        "nearby://x@", "nearby://a@b/c", "nearby://%zz" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *name = NULL;
      g_autofree char *host = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_false (nearby_url_parse_nearby (bad[i], &name, &host, &error));
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID);
      g_assert_null (name);
      g_assert_null (host);
    }
}

static void
test_build (void)
{
  g_autofree char *v4 = nearby_url_build_http ("10.0.0.2", "eth0", 9419, "/p/main");
  g_autofree char *v6 = nearby_url_build_http ("2001:db8::1", "eth0", 9419, "/p/main");
  g_autofree char *ll = nearby_url_build_http ("fe80::1:2", "eth0", 80, "/p");
  g_autofree char *ll_no_if = nearby_url_build_http ("fe80::1", NULL, 80, "/p");

  g_assert_cmpstr (v4, ==, "http://10.0.0.2:9419/p/main");
  g_assert_cmpstr (v6, ==, "http://[2001:db8::1]:9419/p/main");
  g_assert_cmpstr (ll, ==, "http://[fe80::1:2%25eth0]:80/p");
  g_assert_cmpstr (ll_no_if, ==, "http://[fe80::1]:80/p");
  g_assert_true (nearby_url_is_link_local ("FE80::1"));
  g_assert_false (nearby_url_is_link_local ("fec0::1"));
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/url/parse", test_parse);
  g_test_add_func ("/url/parse-rejects", test_parse_rejects);
  g_test_add_func ("/url/build-http", test_build);
  g_test_add_func ("/url/usable-address", test_usable_address);
  return g_test_run ();
}
