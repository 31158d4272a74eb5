#include "txt-record.h"

#include <string.h>

#include "identity.h"
#include "name.h"
#include "nearby-error.h"
#include "untrusted.h"

void
nearby_txt_clear (NearbyTxt *txt)
{
  g_clear_pointer (&txt->name, g_free);
  g_clear_pointer (&txt->path, g_free);
  g_clear_pointer (&txt->ref, g_free);
  g_clear_pointer (&txt->head, g_free);
  g_clear_pointer (&txt->repo, g_free);
  g_clear_pointer (&txt->key, g_free);
  g_clear_pointer (&txt->owner, g_free);
  g_clear_pointer (&txt->subject, g_free);
  g_clear_pointer (&txt->date, g_free);
}

/* @s made valid UTF-8 and cut on a character boundary to at most @max
 * bytes; NULL stays NULL. */
static char *
cut_utf8 (const char *s, gsize max)
{
  g_autofree char *valid = NULL;
  const char *end;

  if (s == NULL)
    return NULL;
  valid = g_utf8_make_valid (s, -1);
  if (strlen (valid) <= max)
    return g_steal_pointer (&valid);
  end = g_utf8_find_prev_char (valid, valid + max + 1);
  /* end is the start of the character that crosses max (or starts at it) */
  return g_strndup (valid, end != NULL ? (gsize) (end - valid) : 0);
}

static void
add_pair (GStrvBuilder *builder, const char *key, const char *value)
{
  g_autofree char *pair = NULL;

  if (value == NULL)
    return;
  pair = g_strconcat (key, "=", value, NULL);
  g_strv_builder_add (builder, pair);
}

/* Adds "@key=@value" when it fits in what is left of the record. */
static void
add_if_room (GStrvBuilder *builder, gsize *total, const char *key, const char *value)
{
  if (value != NULL && *total + 1 + strlen (key) + 1 + strlen (value) < NEARBY_TXT_MAX_BYTES)
    {
      add_pair (builder, key, value);
      *total += 1 + strlen (key) + 1 + strlen (value);
    }
}

/* Adds "@key=@value" with @value cut to what is left of the record, and
 * to @max; nothing when not even a few bytes of it fit. */
static void
add_cut_pair (GStrvBuilder *builder, gsize *total, const char *key, const char *value, gsize max)
{
  gsize overhead = 1 + strlen (key) + 1;
  g_autofree char *cut = NULL;

  if (value == NULL || *total + overhead + 8 >= NEARBY_TXT_MAX_BYTES)
    return;
  cut = cut_utf8 (value, MIN (max, NEARBY_TXT_MAX_BYTES - 1 - *total - overhead));
  if (*cut == '\0')
    return;
  add_pair (builder, key, cut);
  *total += overhead + strlen (cut);
}

GStrv
nearby_txt_encode (const NearbyTxt *txt, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) strings = NULL;
  g_auto (GStrv) required = NULL;
  gsize total = 0;

  /* GLib 2.74 has no g_strv_builder_take() yet. The key is required when
   * there is one: without it a pinned remote cannot find its branch. */
  g_strv_builder_add (builder, "txtvers=" NEARBY_TXT_VERSION);
  add_pair (builder, "name", txt->name);
  add_pair (builder, "path", txt->path);
  add_pair (builder, "ref", txt->ref);
  add_pair (builder, "key", txt->key);
  required = g_strv_builder_end (builder);

  /* Each string costs a length byte on the wire. */
  for (char **s = required; *s != NULL; s++)
    {
      if (strlen (*s) > 255)
        {
          g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE, "TXT string too long: %.20s...",
                       *s);
          return NULL;
        }
      total += 1 + strlen (*s);
    }
  if (total >= NEARBY_TXT_MAX_BYTES)
    {
      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_TOO_LARGE, "TXT record of %zu bytes for '%s'",
                   total, txt->name);
      return NULL;
    }
  /* The rest gets the room that is left, in this order: a name of 63
   * bytes of non-ASCII letters has a path of 189 bytes, and then the root
   * commit may not fit. */
  g_strv_builder_addv (builder, (const char **) required);
  add_if_room (builder, &total, "head", txt->head);
  add_if_room (builder, &total, "repo", txt->repo);
  add_if_room (builder, &total, "date", txt->date);
  add_cut_pair (builder, &total, "owner", txt->owner, NEARBY_TXT_OWNER_MAX_BYTES);
  add_cut_pair (builder, &total, "subject", txt->subject, NEARBY_TXT_SUBJECT_MAX_BYTES);
  strings = g_strv_builder_end (builder);
  return g_steal_pointer (&strings);
}

static gboolean
is_hex_id (const char *s)
{
  if (strlen (s) != 40)
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isxdigit (*s) || g_ascii_isupper (*s))
      return FALSE;
  return TRUE;
}

/* 1 to 12 digits: seconds since 1970, until the year 33658. */
static gboolean
is_date (const char *s)
{
  gsize len = strlen (s);

  if (len == 0 || len > 12)
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

gboolean
nearby_txt_decode (const char *const *strings, NearbyTxt *txt, GError **error)
{
  const char *version = NULL;

  memset (txt, 0, sizeof *txt);
  for (const char *const *s = strings; s != NULL && *s != NULL; s++)
    {
      const char *eq = strchr (*s, '=');
      g_autofree char *key = NULL;
      char **field = NULL;

      if (eq == NULL)
        continue;
      key = g_ascii_strdown (*s, eq - *s);
      if (strcmp (key, "txtvers") == 0)
        version = eq + 1;
      else if (strcmp (key, "name") == 0)
        field = &txt->name;
      else if (strcmp (key, "path") == 0)
        field = &txt->path;
      else if (strcmp (key, "ref") == 0)
        field = &txt->ref;
      else if (strcmp (key, "head") == 0)
        field = &txt->head;
      else if (strcmp (key, "repo") == 0)
        field = &txt->repo;
      else if (strcmp (key, "key") == 0)
        field = &txt->key;
      else if (strcmp (key, "owner") == 0)
        field = &txt->owner;
      else if (strcmp (key, "subject") == 0)
        field = &txt->subject;
      else if (strcmp (key, "date") == 0)
        field = &txt->date;
      /* The first of repeated keys counts (RFC 6763 §6.4). */
      if (field != NULL && *field == NULL)
        *field = g_strdup (eq + 1);
    }

  if (g_strcmp0 (version, NEARBY_TXT_VERSION) != 0)
    {
      /* The version is text from the network too. */
      g_autofree char *shown = nearby_untrusted_escape (version != NULL ? version : "(none)");

      g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID, "unsupported TXT record version '%s'",
                   shown);
      nearby_txt_clear (txt);
      return FALSE;
    }
  if (txt->name == NULL || txt->path == NULL || !nearby_name_validate (txt->name, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error_literal (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                             "TXT record without name or path");
      nearby_txt_clear (txt);
      return FALSE;
    }
  /* The path is derived from the name and nothing else: any other path
   * (another branch's, a query, "..") would make the URL we hand git point
   * somewhere the name does not say. */
  {
    g_autofree char *expected = nearby_name_to_path (txt->name);

    if (strcmp (txt->path, expected) != 0)
      {
        g_autofree char *shown = nearby_untrusted_escape (txt->path);

        g_set_error (error, NEARBY_ERROR, NEARBY_ERROR_INVALID,
                     "TXT record of '%s' has path '%s', not '%s'", txt->name, shown, expected);
        nearby_txt_clear (txt);
        return FALSE;
      }
  }
  /* Only shown, never used to find anything, but shown as UTF-8. */
  if (txt->ref != NULL && !g_utf8_validate (txt->ref, -1, NULL))
    {
      char *valid = g_utf8_make_valid (txt->ref, -1);

      g_free (txt->ref);
      txt->ref = valid;
    }
  /* Ids that are not ids are dropped rather than shown. */
  if (txt->head != NULL && !is_hex_id (txt->head))
    g_clear_pointer (&txt->head, g_free);
  if (txt->repo != NULL && !is_hex_id (txt->repo))
    g_clear_pointer (&txt->repo, g_free);
  if (txt->key != NULL && !nearby_key_is_valid (txt->key))
    g_clear_pointer (&txt->key, g_free);
  if (txt->date != NULL && !is_date (txt->date))
    g_clear_pointer (&txt->date, g_free);
  {
    char *owner = cut_utf8 (txt->owner, NEARBY_TXT_OWNER_MAX_BYTES);
    char *subject = cut_utf8 (txt->subject, NEARBY_TXT_SUBJECT_MAX_BYTES);

    g_free (txt->owner);
    txt->owner = owner != NULL && *owner != '\0' ? owner : (g_free (owner), NULL);
    g_free (txt->subject);
    txt->subject = subject != NULL && *subject != '\0' ? subject : (g_free (subject), NULL);
  }
  return TRUE;
}
