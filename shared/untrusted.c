#include "untrusted.h"

#include <string.h>

/* Default_Ignorable_Code_Point (Unicode 15 DerivedCoreProperties.txt) that
 * are not Cf, plus the line and paragraph separators. */
static const struct
{
  gunichar first, last;
} invisible[] = {
  { 0x034F, 0x034F },   /* combining grapheme joiner */
  { 0x115F, 0x1160 },   /* Hangul fillers */
  { 0x17B4, 0x17B5 },   /* Khmer inherent vowels */
  { 0x180B, 0x180F },   /* Mongolian variation selectors */
  { 0x2028, 0x2029 },   /* line and paragraph separators */
  { 0x2065, 0x2065 },   /* reserved in the 2060..206F block */
  { 0x3164, 0x3164 },   /* Hangul filler */
  { 0xFE00, 0xFE0F },   /* variation selectors */
  { 0xFFA0, 0xFFA0 },   /* halfwidth Hangul filler */
  { 0xFFF0, 0xFFF8 },   /* reserved specials */
  { 0x1BCA0, 0x1BCA3 }, /* shorthand format controls */
  { 0xE0000, 0xE0FFF }, /* tags, variation selectors supplement */
};

gboolean
nearby_unichar_is_invisible (gunichar c)
{
  if (g_unichar_type (c) == G_UNICODE_FORMAT)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (invisible); i++)
    if (c >= invisible[i].first && c <= invisible[i].last)
      return TRUE;
  return FALSE;
}

char *
nearby_untrusted_utf8 (const char *s)
{
  return s != NULL ? g_utf8_make_valid (s, -1) : NULL;
}

char *
nearby_untrusted_escape (const char *s)
{
  g_autofree char *valid = nearby_untrusted_utf8 (s != NULL ? s : "");
  GString *out = g_string_sized_new (strlen (valid));

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
        g_string_append_printf (out, "\\x%02X", c);
      else if (nearby_unichar_is_invisible (c))
        g_string_append_printf (out, c > 0xFFFF ? "\\U%08X" : "\\u%04X", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

void
nearby_untrusted_print_message (FILE *out, const char *prefix, const char *message)
{
  g_auto (GStrv) lines = g_strsplit (message != NULL ? message : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *shown = nearby_untrusted_escape (lines[i]);

      fprintf (out, "%s%s\n", i == 0 ? prefix : "", shown);
    }
}
