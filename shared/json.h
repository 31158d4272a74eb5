/* git-nearby: the JSON documents the pages and browse --json write, built
 * with json-glib and laid out as they always were ("key": value, one
 * object a line), which scripts grep. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Adds @value as a string, under @member unless @member is NULL (an array
 * element), or null when @value is NULL. The string is made valid UTF-8
 * first: invalid bytes (a Latin-1 subject, a TXT value) become U+FFFD. */
void nearby_json_add_string (JsonBuilder *builder, const char *member, const char *value);

/* Appends @node on one line, `{"name": "a", "pinned": ["x", "y"]}`, with
 * no raw control character in it: C0, DEL, C1 and U+2028/U+2029 are
 * written as \u escapes. */
void nearby_json_append (GString *out, JsonNode *node);

/* Appends the array @node one element a line, "[\n  {...},\n  {...}\n]\n",
 * or "[]\n" when it is empty. */
void nearby_json_append_list (GString *out, JsonNode *node);
/* The same, an element at a time, for lists too long to hold as one tree:
 * nearby_json_list_add() for each element (@index from 0), then
 * nearby_json_list_end() with how many were added. */
void nearby_json_list_add (GString *out, guint index, JsonNode *element);
void nearby_json_list_end (GString *out, guint n);

/* @node as a document of its own: nearby_json_append and a newline. */
GBytes *nearby_json_to_bytes (JsonNode *node);

G_END_DECLS
