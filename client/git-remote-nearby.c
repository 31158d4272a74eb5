/* git-remote-nearby: the nearby:// remote helper.
 *
 * git runs `git-remote-nearby <remote> <url>` for clone, fetch, pull,
 * ls-remote and friends; <remote> is the remote's name, or the URL itself
 * when there is none. We resolve the name now, at the moment of use, and
 * hand over to git's own HTTP transport with the URL found, so progress,
 * errors and options are exactly git's.
 *
 * A server with a key is fetched from over HTTPS, with curl told to accept
 * only that key (http.<url>.pinnedPubkey, scoped to that one URL): git and
 * curl do the verification, before any data is sent. A named remote pins
 * the key it first used (remote.<name>.nearbykey) and from then on follows
 * that key only. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "browser.h"
#include "identity.h"
#include "log.h"
#include "nearby-error.h"
#include "name.h"
#include "pins.h"
#include "untrusted.h"
#include "url.h"

/* GIT_NEARBY_TIMEOUT, in seconds; a value that is not one is an error,
 * not a reason to wait for the default. */
static gboolean
timeout_ms (guint *ms, GError **error)
{
  const char *env = g_getenv ("GIT_NEARBY_TIMEOUT");
  char *end = NULL;
  double seconds;

  *ms = NEARBY_BROWSE_DEFAULT_TIMEOUT_MS;
  if (env == NULL)
    return TRUE;
  seconds = g_ascii_strtod (env, &end);
  if (end == env || *end != '\0' || !(seconds > 0 && seconds <= 3600))
    {
      g_autofree char *shown = nearby_untrusted_escape (env);

      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                   "GIT_NEARBY_TIMEOUT='%s' is not a number of seconds (more than 0, at most 3600)",
                   shown);
      return FALSE;
    }
  *ms = (guint) (seconds * 1000);
  return TRUE;
}

/* git writes its first command ("capabilities") as soon as it has started
 * us; a helper that exits before that line is in the pipe makes the write
 * kill git with SIGPIPE (exit 141, no message of git's own). Waits, at most
 * a second, until it is there; with the pipe closed unread after that, git
 * reads our end of file and exits 128 quietly, as it does for any helper
 * that quits. */
static void
let_git_write_first (void)
{
  struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };

  if (isatty (STDIN_FILENO))
    return;
  (void) poll (&pfd, 1, 1000);
}

/* Prints @message as git does, each line escaped: it may quote what
 * another host advertised. Lines after the first are hints already. */
static int
fatal (const char *message)
{
  nearby_untrusted_print_message (stderr, "fatal: ", message);
  let_git_write_first ();
  return 128;
}

/* Hands over to `git remote-https` with curl held to @key for @url alone,
 * after any GIT_CONFIG_COUNT entries the user already has. */
static int
exec_https (const char *remote, const char *url, const char *key)
{
  const char *count_env = g_getenv ("GIT_CONFIG_COUNT");
  guint64 count = 0;
  const char *settings[][2] = { { "pinnedPubkey", key }, { "sslVerify", "false" } };
  /* A zone is in the authority, "[fe80::1%25eth0]"; a '%' in a name is
   * "%25" in the path, which is no reason to leave the URL's scope. */
  const char *authority = strstr (url, "://");
  gboolean zoned = FALSE;

  authority = authority != NULL ? authority + 3 : url;
  zoned = g_strstr_len (authority, strcspn (authority, "/"), "%25") != NULL;

  if (count_env != NULL && *count_env != '\0'
      && !g_ascii_string_to_unsigned (count_env, 10, 0, G_MAXINT - 8, &count, NULL))
    return fatal ("GIT_CONFIG_COUNT is not a number");
  for (gsize i = 0; i < G_N_ELEMENTS (settings); i++, count++)
    {
      g_autofree char *name = g_strdup_printf ("GIT_CONFIG_KEY_%" G_GUINT64_FORMAT, count);
      g_autofree char *value = g_strdup_printf ("GIT_CONFIG_VALUE_%" G_GUINT64_FORMAT, count);
      /* git's urlmatch refuses a zone in a host ("invalid characters in
       * host name"), so no http.<url>.* ever applies to a link-local URL:
       * there the settings go unscoped. They are still held to the pin:
       * curl checks it on every TLS connection, and this git remote-https
       * talks to this one URL only. */
      g_autofree char *config = zoned ? g_strdup_printf ("http.%s", settings[i][0])
                                      : g_strdup_printf ("http.%s.%s", url, settings[i][0]);

      g_setenv (name, config, TRUE);
      g_setenv (value, settings[i][1], TRUE);
    }
  {
    g_autofree char *n = g_strdup_printf ("%" G_GUINT64_FORMAT, count);
    char *args[] = { "git", "remote-https", (char *) remote, (char *) url, NULL };

    g_setenv ("GIT_CONFIG_COUNT", n, TRUE);
    /* With the chain unchecked the CA store is of no use, and curl would
     * parse all of it for every connection (git makes two or three per
     * fetch; 46 ms of client CPU per ls-remote against 18 ms without, here).
     * The pin is checked all the same. The variables, not http.sslCAInfo and
     * http.sslCAPath: a user's GIT_SSL_CAINFO or GIT_SSL_CAPATH would
     * override those. */
    g_setenv ("GIT_SSL_CAINFO", "/dev/null", TRUE);
    g_setenv ("GIT_SSL_CAPATH", "/dev/null", TRUE);
    execvp ("git", args);
  }
  fprintf (stderr, "fatal: cannot run git remote-https: %s\n", g_strerror (errno));
  return 128;
}

static void
debug_chosen (const NearbyService *s, const char *why)
{
  g_autofree char *name = nearby_untrusted_escape (s->name);
  g_autofree char *host = nearby_untrusted_escape (s->host);
  g_autofree char *owner = nearby_untrusted_escape (s->owner);
  g_autofree char *url = nearby_untrusted_escape (s->url);
  g_autofree char *code = s->key != NULL ? nearby_key_short_code (s->key) : g_strdup ("none");

  g_debug ("chose '%s' on %s (owner '%s', key %s) at %s: %s", name, host, owner, code, url, why);
}

/* Pins @s's key (and owner) to @remote at first contact. A remote that
 * cannot keep its pin would follow the name at every fetch: that is an
 * error, not a warning. */
static gboolean
pin (const char *remote, const NearbyService *s, GError **error)
{
  g_autofree char *key_name = g_strdup_printf ("remote.%s.nearbykey", remote);
  g_autofree char *owner_name = g_strdup_printf ("remote.%s.nearbyowner", remote);
  gboolean plain = s->owner != NULL;

  /* An owner that would not show as itself is not worth keeping. */
  for (const char *c = s->owner; plain && *c != '\0'; c = g_utf8_next_char (c))
    plain = !g_unichar_iscntrl (g_utf8_get_char (c));
  if (!nearby_git_config_set (key_name, s->key, error)
      || (plain && !nearby_git_config_set (owner_name, s->owner, error)))
    {
      g_prefix_error (error, "cannot pin the server's key to remote '%s': ", remote);
      return FALSE;
    }
  {
    g_autofree char *code = nearby_key_short_code (s->key);
    g_autofree char *shown = nearby_untrusted_escape (remote);

    g_debug ("pinned remote '%s' to key %s", shown, code);
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NearbyService) service = NULL;
  g_auto (NearbyUrl) url = { 0 };
  g_autofree char *pinned = NULL;
  g_autofree char *pinned_owner = NULL;
  g_autofree char *https = NULL;
  g_autofree char *path = NULL;
  NearbyPick pick = { 0 };
  const char *remote;
  gboolean named;
  gboolean pinned_in_config = FALSE;
  guint wait_ms;

  setlocale (LC_ALL, "");
  nearby_log_init ("git-remote-nearby", g_getenv ("GIT_NEARBY_DEBUG") != NULL);
  if (argc != 3)
    {
      fprintf (stderr, "usage: git-remote-nearby <remote> nearby://NAME[@WHO]\n"
                       "(git runs this for nearby:// URLs; see git-remote-nearby(1))\n");
      return 128;
    }
  remote = argv[1];
  /* `git fetch nearby://x` has no remote to pin: git passes the URL twice
   * (or, through url.<base>.insteadOf, the URL as typed). A remote is one
   * that has a url in the config. */
  named = strcmp (argv[1], argv[2]) != 0 && strstr (argv[1], "://") == NULL;
  if (named)
    {
      g_autofree char *configured = NULL;

      if (!nearby_remote_config (remote, &configured, &pinned, &pinned_owner, &error))
        return fatal (error->message);
      named = configured != NULL;
      if (!named)
        g_clear_pointer (&pinned, g_free);
    }

  if (!nearby_url_parse (argv[2], &url, &error))
    return fatal (error->message);

  if (url.key != NULL)
    {
      /* Direct: no mDNS, and the URL is the pin. */
      path = nearby_name_to_path (url.name);
      https = nearby_url_build ("https", url.host, url.ifname, url.port, path);
      {
        g_autofree char *shown = nearby_untrusted_escape (https);
        g_autofree char *code = nearby_key_short_code (url.key);

        g_debug ("direct URL: %s, key %s, no mDNS", shown, code);
      }
      return exec_https (remote, https, url.key);
    }

  if (named)
    {
      if (pinned != NULL && !nearby_key_is_valid (pinned))
        {
          g_autofree char *shown = nearby_untrusted_escape (remote);
          g_autofree char *message = g_strdup_printf (
              "remote.%s.nearbykey is not a key (sha256//<base64>); fix or remove it to pin anew",
              shown);

          return fatal (message);
        }
      if (pinned == NULL)
        g_clear_pointer (&pinned_owner, g_free);
      pinned_in_config = pinned != NULL;
    }
  else
    g_clear_pointer (&pinned_owner, g_free);
  /* NAME@KEY with the whole key is a pin written in the URL: the key and
   * nothing else, and a refusal when it is not there. */
  if (pinned == NULL && url.who != NULL)
    pinned = nearby_key_from_url_form (url.who);
  pick.who = url.who;
  pick.pin = pinned;
  pick.pinned_owner = pinned_owner;
  pick.remote = named ? remote : NULL;
  if (!timeout_ms (&wait_ms, &error))
    return fatal (error->message);
  service = nearby_resolve (url.name, &pick, wait_ms, &error);
  if (service == NULL)
    return fatal (error->message);

  if (service->key == NULL)
    {
      /* A server from before identities: plain HTTP, as it always was
       * (never for a pinned remote: the pick only takes the pinned key). */
      char *args[] = { "git", "remote-http", (char *) remote, service->url, NULL };

      debug_chosen (service, "a server without a key, over plain HTTP; nothing pinned");
      execvp ("git", args);
      fprintf (stderr, "fatal: cannot run git remote-http: %s\n", g_strerror (errno));
      return 128;
    }

  if (named && !pinned_in_config)
    {
      debug_chosen (service, url.who != NULL ? "first contact, the one WHO names"
                                             : "first contact, the one candidate");
      /* Trust on first use, but only of a server that holds the key it
       * announces: one that copied someone's record is refused here, with
       * nothing written, rather than pinned and then refused by curl. */
      if (!nearby_can_probe_keys ())
        g_debug ("no TLS in GIO (glib-networking): pinning without a probe; curl checks the key");
      else if (!nearby_service_holds_key (service, service->key, &error))
        {
          g_autofree char *code = nearby_key_short_code (service->key);
          g_autofree char *message = g_strdup_printf (
              "the server at %s announces key %s but does not hold it (%s): it is not who it "
              "says it is; nothing was fetched or written",
              service->url, code, error->message);

          return fatal (message);
        }
      if (!pin (remote, service, &error))
        return fatal (error->message);
    }
  else if (pinned != NULL)
    debug_chosen (service, "the key this remote is pinned to");
  else
    debug_chosen (service, "no remote name, nothing pinned");
  /* The name found (NAME may have been the end of it). */
  path = nearby_name_to_path (service->name);
  https = nearby_url_build ("https", service->address, service->ifname, service->port, path);
  return exec_https (remote, https, service->key);
}
