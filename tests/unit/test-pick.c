#include <string.h>

#include "browser-private.h"
#include "browser.h"
#include "nearby-error.h"
#include "project.h"

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
  NearbyPick pick = { .who = host };
  const NearbyService *s = nearby_browse_pick (services, name, &pick, &error);

  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_cmpstr (s->url, ==, url);
}

static void
expect_error (const char *name, const char *host, int code, const char *message)
{
  g_autoptr (GPtrArray) services = nearby ();
  g_autoptr (GError) error = NULL;
  NearbyPick pick = { .who = host };

  g_assert_null (nearby_browse_pick (services, name, &pick, &error));
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
  NearbyPick pick = { .who = host };

  return nearby_browse_pick (services, name, &pick, error);
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

#define ALICE "sha256//K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtbpA="
#define ALICE_URL "K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtbpA"
#define ALICE_CODE "5FC0-DJBZ"
/* Another key with Alice's short code: 40 bits can be ground. */
#define ALICE_TWIN "sha256//K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtboA="
#define ALICE_TWIN_URL "K9gGyX8OAK8aH8Myj6djqSaXI8jbj6xPk69x2xhtboA"
#define CAROL "sha256//TCbZB0wn2J7eWScMCsFLceBxsVI5UZ91R0svO6Y0gfU="
#define CAROL_CODE "9GKD-J1TC"
#define MALLORY "sha256//wKSXdhsXU3ntYzl8yYBUZVn6qEypy+7edzEXwxUItqw="
#define MALLORY_CODE "R2J9-EXGV"

static NearbyService *
add_keyed (GPtrArray *services, const char *name, const char *host, guint16 port, const char *key,
           const char *owner, const char *subject)
{
  NearbyService *s = g_new0 (NearbyService, 1);

  s->name = g_strdup (name);
  s->host = g_strdup (host);
  s->port = port;
  s->address = g_strdup_printf ("10.0.0.%u", port % 200);
  s->url = g_strdup_printf ("http://%s:%u/%s", s->address, port, name);
  s->key = g_strdup (key);
  s->owner = g_strdup (owner);
  s->subject = g_strdup (subject);
  g_ptr_array_add (services, s);
  return s;
}

static GPtrArray *
keyed (void)
{
  GPtrArray *services = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);

  add_keyed (services, "webapp/fix-login", "alice-host", 1, ALICE, "Alice", "Fix the login");
  add_keyed (services, "webapp/fix-login", "carol-host", 2, CAROL, "Carol", "WIP");
  add_keyed (services, "webapp/main", "alice-host", 1, ALICE, "Alice Smith", NULL);
  return services;
}

static const NearbyService *
pick_with (GPtrArray *services, const char *name, const char *who, const char *pin,
           const char *owner, GError **error)
{
  NearbyPick pick = { .who = who, .pin = pin, .pinned_owner = owner, .remote = "origin" };

  return nearby_browse_pick (services, name, &pick, error);
}

static void
expect_keyed (GPtrArray *services, const char *name, const char *who, const char *pin,
              const char *owner, const char *host)
{
  g_autoptr (GError) error = NULL;
  const NearbyService *s = pick_with (services, name, who, pin, owner, &error);

  g_assert_no_error (error);
  g_assert_nonnull (s);
  g_assert_cmpstr (s->host, ==, host);
}

/* WHO at first contact: a host, an owner, a short code, a key's URL form. */
static void
test_who (void)
{
  g_autoptr (GPtrArray) services = keyed ();

  expect_keyed (services, "webapp/fix-login", "carol-host", NULL, NULL, "carol-host");
  expect_keyed (services, "webapp/fix-login", "Alice", NULL, NULL, "alice-host");
  expect_keyed (services, "webapp/fix-login", "alice", NULL, NULL, "alice-host");
  expect_keyed (services, "fix-login", "Carol", NULL, NULL, "carol-host");
  expect_keyed (services, "main", "Alice Smith", NULL, NULL, "alice-host");
  expect_keyed (services, "webapp/fix-login", ALICE_CODE, NULL, NULL, "alice-host");
  expect_keyed (services, "webapp/fix-login", "9gkdj1tc", NULL, NULL, "carol-host");
  expect_keyed (services, "webapp/fix-login", ALICE_URL, NULL, NULL, "alice-host");
  expect_keyed (services, "webapp/fix-login", CAROL, NULL, NULL, "carol-host");
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (pick_with (services, "webapp/fix-login", "Bob", NULL, NULL, &error));
    g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND);
    g_assert_cmpstr (error->message, ==,
                     "no branch named 'webapp/fix-login' is advertised by Bob; see 'git nearby "
                     "browse'");
  }
}

/* Several at first contact: each listed as a choice to paste. */
/* A WHO spelled like a key names a key, never an owner or a host that the
 * advertiser spelled like someone's key: with Alice away, Mallory's
 * record with owner (or host) "<Alice's key>" is no match, keyed or not. */
static void
test_who_key_is_only_a_key (void)
{
  const char *spellings[] = { ALICE_URL, ALICE_CODE };

  for (gsize i = 0; i < G_N_ELEMENTS (spellings); i++)
    {
      g_autoptr (GPtrArray) services
          = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
      g_autoptr (GError) error = NULL;
      NearbyService *keyless = g_new0 (NearbyService, 1);
      NearbyService *keyed_owner = g_new0 (NearbyService, 1);
      NearbyService *host = g_new0 (NearbyService, 1);

      keyless->name = g_strdup ("webapp/fix-login");
      keyless->host = g_strdup ("mallory-host");
      keyless->owner = g_strdup (spellings[i]);
      keyless->url = g_strdup ("http://10.0.0.4:9419/webapp/fix-login");
      keyed_owner->name = g_strdup ("webapp/fix-login");
      keyed_owner->host = g_strdup ("mallory2");
      keyed_owner->owner = g_strdup (spellings[i]);
      keyed_owner->key = g_strdup (CAROL);
      keyed_owner->url = g_strdup ("http://10.0.0.5:9419/webapp/fix-login");
      host->name = g_strdup ("webapp/fix-login");
      host->host = g_strdup (spellings[i]);
      host->url = g_strdup ("http://10.0.0.6:9419/webapp/fix-login");
      g_ptr_array_add (services, keyless);
      g_ptr_array_add (services, keyed_owner);
      g_ptr_array_add (services, host);

      g_assert_null (pick_with (services, "webapp/fix-login", spellings[i], NULL, NULL, &error));
      g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND);
    }
}

static void
test_candidates (void)
{
  g_autoptr (GPtrArray) services = keyed ();
  g_autoptr (GError) error = NULL;

  /* a keyless (old) server too: @HOST as before */
  add (services, "webapp/fix-login", "dave");
  g_assert_null (pick_with (services, "webapp/fix-login", NULL, NULL, NULL, &error));
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS);
  g_assert_cmpstr (error->message, ==,
                   "'webapp/fix-login' is advertised by 3 servers; pick one: "
                   "nearby://webapp/fix-login@" ALICE_CODE " (Alice on alice-host, \"Fix the "
                   "login\"), nearby://webapp/fix-login@" CAROL_CODE " (Carol on carol-host, "
                   "\"WIP\"), nearby://webapp/fix-login@dave");
  g_clear_error (&error);

  /* Each choice works. */
  expect_keyed (services, "webapp/fix-login", ALICE_CODE, NULL, NULL, "alice-host");
  expect_keyed (services, "webapp/fix-login", CAROL_CODE, NULL, NULL, "carol-host");
  expect_keyed (services, "webapp/fix-login", "dave", NULL, NULL, "dave");
}

/* A short code shared by two candidates: the key's URL form instead; one
 * key at two places: the direct URL. */
static void
test_candidates_same_code (void)
{
  g_autoptr (GPtrArray) services
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  g_autoptr (GError) error = NULL;

  add_keyed (services, "demo", "alice-host", 1, ALICE, NULL, NULL);
  add_keyed (services, "demo", "evil", 2, ALICE_TWIN, "Alice", "x\x1b[2J");
  add_keyed (services, "demo", "carol-host", 3, CAROL, NULL, NULL);
  add_keyed (services, "demo", "carol-host", 4, CAROL, NULL, NULL);
  g_assert_null (pick_with (services, "demo", NULL, NULL, NULL, &error));
  g_assert_cmpstr (
      error->message, ==,
      "'demo' is advertised by 4 servers; pick one: nearby://demo@" ALICE_URL
      " (alice-host), nearby://demo@" ALICE_TWIN_URL
      " (Alice on evil, \"x\\x1B[2J\"), nearby://TCbZB0wn2J7eWScMCsFLceBxsVI5UZ91R0svO6Y0gfU@"
      "10.0.0.3:3/demo (carol-host), "
      "nearby://TCbZB0wn2J7eWScMCsFLceBxsVI5UZ91R0svO6Y0gfU@10.0.0.4:4/demo "
      "(carol-host)");
  g_clear_error (&error);
  expect_keyed (services, "demo", ALICE_TWIN_URL, NULL, NULL, "evil");
  /* The short code matches both: listed again, never one picked. */
  g_assert_null (pick_with (services, "demo", ALICE_CODE, NULL, NULL, &error));
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_EXISTS);
}

/* Pinned: only the pinned key counts, WHO is ignored, and the owner is
 * followed to a new host and port. */
static void
test_pinned (void)
{
  g_autoptr (GPtrArray) services = keyed ();

  expect_keyed (services, "webapp/fix-login", NULL, ALICE, "Alice", "alice-host");
  expect_keyed (services, "webapp/fix-login", "carol-host", ALICE, "Alice", "alice-host");
  expect_keyed (services, "fix-login", NULL, CAROL, "Carol", "carol-host");
  g_ptr_array_remove_index (services, 0);
  add_keyed (services, "webapp/fix-login", "alice-new-laptop", 7, ALICE, "Alice", NULL);
  expect_keyed (services, "webapp/fix-login", NULL, ALICE, "Alice", "alice-new-laptop");
  /* A keyless server never serves a pinned remote. */
  {
    g_autoptr (GPtrArray) old = nearby ();
    g_autoptr (GError) error = NULL;

    g_assert_null (pick_with (old, "demo", "alice", ALICE, NULL, &error));
    g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND);
    g_assert_cmpstr (error->message, ==,
                     "'demo' from key " ALICE_CODE " is not on the network; this remote is "
                     "pinned to that key and will not fetch from anyone else (2 other servers "
                     "advertise that name)");
  }
}

/* The pinned owner left: says so and names the key, whoever else is there. */
static void
test_pinned_absent (void)
{
  g_autoptr (GPtrArray) services = keyed ();
  g_autoptr (GError) error = NULL;

  g_ptr_array_remove_index (services, 0);
  g_assert_null (pick_with (services, "webapp/fix-login", NULL, ALICE, "Alice", &error));
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "'webapp/fix-login' from Alice (key " ALICE_CODE ") is not on the network; "
                   "this remote is pinned to that key and will not fetch from anyone else (1 "
                   "other server advertises that name)");
  g_clear_error (&error);
  g_assert_null (pick_with (services, "nosuch", NULL, ALICE, "Alice", &error));
  g_assert_cmpstr (error->message, ==,
                   "'nosuch' from Alice (key " ALICE_CODE ") is not on the network; this "
                   "remote is pinned to that key and will not fetch from anyone else");
}

/* Same owner name, same branch name, another key: refused like ssh. */
static void
test_key_changed (void)
{
  g_autoptr (GPtrArray) services = keyed ();
  g_autoptr (GError) error = NULL;

  g_ptr_array_remove_index (services, 0);
  add_keyed (services, "webapp/fix-login", "alice-host", 1, MALLORY, "Alice", "Fix the login");
  g_assert_null (pick_with (services, "webapp/fix-login", NULL, ALICE, "Alice", &error));
  g_assert_error (error, NEARBY_ERROR, NEARBY_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "the key of Alice's 'webapp/fix-login' has changed (pinned " ALICE_CODE
                   ", now " MALLORY_CODE "): it may be someone else using that name\n"
                   "hint: if you trust the new key: git config remote.origin.nearbykey '" MALLORY
                   "'");
  g_clear_error (&error);
  /* With the owner back, the pin finds her, whatever else is there. */
  add_keyed (services, "webapp/fix-login", "alice-host", 9, ALICE, "Alice", NULL);
  expect_keyed (services, "webapp/fix-login", NULL, ALICE, "Alice", "alice-host");
}

/* Copies of one instance on one host and port are one service only under
 * one key: an impostor's record never merges into the owner's. */
static void
test_merge_key (void)
{
  g_autoptr (GPtrArray) services
      = g_ptr_array_new_with_free_func ((GDestroyNotify) nearby_service_free);
  const NearbyService *alice = add_keyed (services, "demo", "alice", 9, ALICE, "Alice", NULL);
  const NearbyService *copy = add_keyed (services, "demo", "alice", 9, ALICE, "Alice", "later");
  const NearbyService *impostor = add_keyed (services, "demo", "alice", 9, MALLORY, "Alice", NULL);
  const NearbyService *old = add_keyed (services, "demo", "alice", 9, NULL, NULL, NULL);
  const NearbyService *other_port = add_keyed (services, "demo", "alice", 10, ALICE, "Alice", NULL);
  g_autofree char *a = nearby_browser_merge_key ("demo on alice", alice);
  g_autofree char *b = nearby_browser_merge_key ("demo on alice", copy);
  g_autofree char *c = nearby_browser_merge_key ("demo on alice", impostor);
  g_autofree char *d = nearby_browser_merge_key ("demo on alice", old);
  g_autofree char *e = nearby_browser_merge_key ("demo on alice", other_port);
  g_autofree char *f = nearby_browser_merge_key ("demo on alice #2", alice);

  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_assert_cmpstr (a, !=, d);
  g_assert_cmpstr (c, !=, d);
  g_assert_cmpstr (a, !=, e);
  g_assert_cmpstr (a, !=, f);
}

/* An owner's name decides where `git nearby fetch` writes: it must stay one
 * safe component whatever is announced. */
static void
test_ref_component (void)
{
  const struct
  {
    const char *owner;
    const char *component;
  } cases[] = {
    { "Alice", "Alice" },
    { "Alice Smith", "Alice-Smith" },
    { "../../heads/main", "heads-main" },
    { "a..b", "a.b" },
    { ".hidden", "hidden" },
    { "x.lock", "x-lock" },
    { "-dash-", "dash" },
    { "refs/heads/x", "refs-heads-x" },
    { "\x1b[31mred", "31mred" },
    { "Zo\xc3\xab", "Zo" },
    { "@{-1}", "1" },
    { "", "" },
    { "   ", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = nearby_project_ref_component (cases[i].owner);

      g_assert_cmpstr (got, ==, cases[i].component);
      g_assert_null (strchr (got, '/'));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pick/exact", test_exact);
  g_test_add_func ("/pick/who-key-is-only-a-key", test_who_key_is_only_a_key);
  g_test_add_func ("/pick/suffix", test_suffix);
  g_test_add_func ("/pick/ambiguous", test_ambiguous);
  g_test_add_func ("/pick/unknown", test_unknown);
  g_test_add_func ("/pick/exact-and-end", test_exact_and_end);
  g_test_add_func ("/pick/same-host-twice", test_same_host_twice);
  g_test_add_func ("/pick/hosts-escaped", test_hosts_escaped);
  g_test_add_func ("/pick/who", test_who);
  g_test_add_func ("/pick/candidates", test_candidates);
  g_test_add_func ("/pick/candidates-same-code", test_candidates_same_code);
  g_test_add_func ("/pick/pinned", test_pinned);
  g_test_add_func ("/pick/pinned-absent", test_pinned_absent);
  g_test_add_func ("/pick/key-changed", test_key_changed);
  g_test_add_func ("/pick/merge-key", test_merge_key);
  g_test_add_func ("/project/ref-component", test_ref_component);
  return g_test_run ();
}
