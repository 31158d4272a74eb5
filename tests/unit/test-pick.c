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

static const NearbyService *
pick_in (GPtrArray *services, const char *name, const char *host, GError **error)
{
  return nearby_browse_pick (services, name, host, error);
}

static void
add_port (GPtrArray *services, const char *name, const char *host, guint16 port)
{
  NearbyService *s = g_new0 (NearbyService, 1);

  s->name = g_strdup (name);
  s->host = g_strdup (host);
  s->port = port;
  s->url = g_strdup_printf ("http://%s:%u/%s", host, port, name);
  g_ptr_array_add (services, s);
}

/* Someone advertising the bare name does not take over the unique end
 * match: both are offered, never one silently picked. */
static void
test_exact_and_end (void)
{
  g_autoptr (GPtrArray) services = nearby ();
  g_autoptr (GError) error = NULL;
  const NearbyService *s;

  add (services, "fix-login", "mallory");
  g_assert_null (pick_in (services, "fix-login", NULL, &error));
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS);
  g_assert_cmpstr (error->message, ==,
                   "'fix-login' is ambiguous: it is one advertised name and the end of another; "
                   "pick one: nearby://fix-login@mallory, nearby://myproj/fix-login@alice");
  g_clear_error (&error);

  /* Each choice offered works. */
  s = pick_in (services, "fix-login", "mallory", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->url, ==, "http://mallory/fix-login");
  s = pick_in (services, "myproj/fix-login", "alice", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->url, ==, "http://alice/myproj/fix-login");
  /* So does the full name, which nothing else ends in. */
  s = pick_in (services, "myproj/fix-login", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->url, ==, "http://alice/myproj/fix-login");
}

/* One name twice on one host (two servers there, or another's record
 * naming that host): nearby://NAME@HOST cannot tell them apart, the URLs can. */
static void
test_same_host_twice (void)
{
  g_autoptr (GPtrArray) services
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  g_autoptr (GError) error = NULL;

  add_port (services, "demo", "alice", 9419);
  add_port (services, "demo", "alice", 9999);
  add_port (services, "demo", "carol", 9419);
  g_assert_null (pick_in (services, "demo", NULL, &error));
  g_assert_cmpstr (error->message, ==,
                   "'demo' is advertised by several hosts; pick one: http://alice:9419/demo, "
                   "http://alice:9999/demo, nearby://demo@carol");
}

/* Host names come from the network: messages show them escaped. */
static void
test_hosts_escaped (void)
{
  g_autoptr (GPtrArray) services
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  g_autoptr (GError) error = NULL;

  add (services, "demo", "ev\x1b[2Jil");
  add (services, "demo", "carol");
  g_assert_null (pick_in (services, "demo", NULL, &error));
  g_assert_cmpstr (error->message, ==,
                   "'demo' is advertised by several hosts; pick one: nearby://demo@ev\\x1B[2Jil, "
                   "nearby://demo@carol");
  g_clear_error (&error);
  g_assert_null (pick_in (services, "demo", "x\ry", &error));
  g_assert_cmpstr (error->message, ==,
                   "no branch named 'demo' is advertised by x\\x0Dy; see 'git nearby browse'");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pick/exact", test_exact);
  g_test_add_func ("/pick/suffix", test_suffix);
  g_test_add_func ("/pick/ambiguous", test_ambiguous);
  g_test_add_func ("/pick/unknown", test_unknown);
  g_test_add_func ("/pick/exact-and-end", test_exact_and_end);
  g_test_add_func ("/pick/same-host-twice", test_same_host_twice);
  g_test_add_func ("/pick/hosts-escaped", test_hosts_escaped);
  return g_test_run ();
}
