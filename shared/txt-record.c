#include "txt-record.h"

#include <string.h>

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

GStrv
nearby_txt_encode (const NearbyTxt *txt, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) strings = NULL;
  gsize total = 0;

  /* GLib 2.74 has no g_strv_builder_take() yet. */
  g_strv_builder_add (builder, "txtvers=" NEARBY_TXT_VERSION);
  add_pair (builder, "name", txt->name);
  add_pair (builder, "path", txt->path);
  add_pair (builder, "ref", txt->ref);
  add_pair (builder, "head", txt->head);
  add_pair (builder, "repo", txt->repo);
  strings = g_strv_builder_end (builder);

  /* Each string costs a length byte on the wire. */
  for (char **s = strings; *s != NULL; s++)
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
  return TRUE;
}
