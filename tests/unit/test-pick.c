#include <string.h>

#include "browser.h"
#include "nearby-error.h"

static void
add (GPtrArray *services, const char *name, const char *host)
{
  NearbyService *s = g_new0 (NearbyService, 1);

  s->name = g_strdup (name);
  s->host = g_strdup (host);
  s->url = g_strdup_printf ("http://%s/%s", host, name);
  g_ptr_array_add (services, s);
}

static GPtrArray *
nearby (void)
{
  GPtrArray *services = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);

  add (services, "myproj/fix-login", "alice");
  add (services, "demo", "alice");
  add (services, "demo", "carol");
  add (services, "x/fix", "alice");
  add (services, "y/fix", "carol");
  add (services, "z/only", "carol");
  add (services, "z/only", "dave");
  return services;
}

static void
expect (const char *name, const char *host, const char *url)
{
  g_autoptr (GPtrArray) services = nearby ();
  g_autoptr (GError) error = NULL;
  const NearbyService *s = nearby_browse_pick (services, name, host, &error);

  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_cmpstr (s->url, ==, url);
}

static void
expect_error (const char *name, const char *host, int code, const char *message)
{
  g_autoptr (GPtrArray) services = nearby ();
  g_autoptr (GError) error = NULL;

  g_assert_null (nearby_browse_pick (services, name, host, &error));
  g_assert_error (error, NEARBY_ERROR, code);
  g_assert_cmpstr (error->message, ==, message);
}

static void
test_exact (void)
{
  expect ("myproj/fix-login", NULL, "http://alice/myproj/fix-login");
  expect ("demo", "carol", "http://carol/demo");
  expect ("demo", "Carol.local", "http://carol/demo");
}

static void
test_suffix (void)
{
  expect ("fix-login", NULL, "http://alice/myproj/fix-login");
  expect ("fix", "carol", "http://carol/y/fix");
  /* "login" is not a whole part of a name. */
  expect_error ("login", NULL, NEARBY_ERROR_NOT_FOUND,
                "no branch named 'login' is advertised nearby; see 'git nearby browse'");
}

static void
test_ambiguous (void)
{
  expect_error (
      "demo", NULL, NEARBY_ERROR_EXISTS,
      "'demo' is advertised by several hosts; pick one: nearby://demo@alice, nearby://demo@carol");
  expect_error ("fix", NULL, NEARBY_ERROR_EXISTS, "'fix' is ambiguous; say which: x/fix, y/fix");
  /* One name on two hosts, reached by its end: the host choices are listed. */
  expect_error ("only", NULL, NEARBY_ERROR_EXISTS,
                "'only' is advertised by several hosts; pick one: nearby://z/only@carol, "
                "nearby://z/only@dave");
}

static void
test_unknown (void)
{
  expect_error ("nosuch", NULL, NEARBY_ERROR_NOT_FOUND,
                "no branch named 'nosuch' is advertised nearby; see 'git nearby browse'");
  expect_error ("demo", "bob", NEARBY_ERROR_NOT_FOUND,
                "no branch named 'demo' is advertised by bob; see 'git nearby browse'");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pick/exact", test_exact);
  g_test_add_func ("/pick/suffix", test_suffix);
  g_test_add_func ("/pick/ambiguous", test_ambiguous);
  g_test_add_func ("/pick/unknown", test_unknown);
  return g_test_run ();
}
