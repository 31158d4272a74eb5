#include "config.h"

#include "web-page.h"

#include <string.h>

#include "branch-jobs.h"
#include "git-util.h"
#include "identity.h"
#include "json.h"
#include "name.h"
#include "url.h"

#define RECENT_COMMITS 20

char *
nearby_web_html_text (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text, -1);

  return g_markup_escape_text (valid, -1);
}

typedef struct
{
  char *url;  /* to clone */
  char *page; /* the branch's page (nearby_web_page_path()) */
  gboolean unborn;
  char hex[GIT_OID_HEXSZ + 1];
  char *subject;
  gint64 time;
} BranchInfo;

static void
branch_info_clear (BranchInfo *info)
{
  g_free (info->url);
  g_free (info->page);
  g_free (info->subject);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BranchInfo, branch_info_clear)

/* FALSE when the branch is gone. */
static gboolean
branch_info (NearbyBranch *branch, const char *base_url, BranchInfo *info)
{
  g_auto (NearbyUploadTarget) target = { 0 };
  g_autoptr (git_commit) commit = NULL;
  g_autofree char *path = nearby_name_to_path (branch->name);
  g_autofree char *page = nearby_web_page_path (branch->name);

  if (!nearby_branch_resolve (branch, &target, NULL))
    return FALSE;
  info->url = g_strconcat (base_url, path, NULL);
  info->page = g_strconcat (base_url, page, NULL);
  info->unborn = target.unborn;
  if (target.unborn || git_commit_lookup (&commit, target.repo, &target.tip) < 0)
    {
      info->unborn = TRUE;
      return TRUE;
    }
  git_oid_tostr (info->hex, sizeof info->hex, &target.tip);
  info->subject = nearby_commit_text_utf8 (commit, git_commit_summary (commit));
  info->time = git_commit_time (commit);
  return TRUE;
}

char *
nearby_web_page_path (const char *name)
{
  g_autofree char *path = nearby_name_to_path (name);

  /* The route of the LAN page is /nearby exactly; /nearby/ is the branch's. */
  return strcmp (path, "/nearby") == 0 ? g_strdup ("/nearby/") : g_steal_pointer (&path);
}

char *
nearby_web_age (gint64 then)
{
  gint64 seconds = MAX (0, g_get_real_time () / G_USEC_PER_SEC - then);

  if (seconds < 90)
    return g_strdup ("just now");
  if (seconds < 90 * 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " minutes ago", seconds / 60);
  if (seconds < 36 * 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT " hours ago", seconds / 3600);
  return g_strdup_printf ("%" G_GINT64_FORMAT " days ago", seconds / 86400);
}

/* "Served by OWNER, key 3PJS-3G8Y" and the whole pin, to compare and copy. */
static void
append_identity (GString *out, const NearbyWebIdentity *who)
{
  g_autofree char *code = nearby_key_short_code (who->key);
  g_autofree char *pin = nearby_web_html_text (who->key);

  g_string_append (out, "<p class=\"who\">Served by ");
  if (who->owner != NULL)
    {
      g_autofree char *owner = nearby_web_html_text (who->owner);

      g_string_append_printf (out, "<strong class=\"owner\">%s</strong>", owner);
    }
  else
    g_string_append (out, "<em>an owner who gave no name</em>");
  g_string_append_printf (out,
                          ", key <code class=\"code\">%s</code></p>\n"
                          "<p class=\"pin\">Key <code>%s</code></p>\n",
                          code, pin);
}

void
nearby_web_page_start (GString *out, const char *title)
{
  g_autoptr (GBytes) css = g_resources_lookup_data ("/org/gitnearby/style.css", 0, NULL);
  g_autofree char *escaped = nearby_web_html_text (title);

  g_string_append_printf (
      out,
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>%s</title>\n<style>\n%.*s</style>\n</head>\n<body>\n",
      escaped, css != NULL ? (int) g_bytes_get_size (css) : 0,
      css != NULL ? (const char *) g_bytes_get_data (css, NULL) : "");
}

GBytes *
nearby_web_page_end (GString *out)
{
  g_string_append_printf (
      out,
      "<footer>git-nearby %s — read-only; only advertised branches are served.</footer>\n"
      "</body>\n</html>\n",
      PACKAGE_VERSION);
  return g_string_free_to_bytes (out);
}

GBytes *
nearby_web_index_html (NearbyCatalog *catalog, const NearbyWebIdentity *who, const char *base_url)
{
  g_autoptr (GPtrArray) branches = nearby_catalog_list (catalog);
  GString *out = g_string_new (NULL);

  const char *host = g_get_host_name ();
  g_autofree char *title = who->owner != NULL
                               ? g_strdup_printf ("%s on %s — git-nearby", who->owner, host)
                               : g_strdup_printf ("%s — git-nearby", host);
  g_autofree char *shown_host = nearby_web_html_text (host);

  nearby_web_page_start (out, title);
  if (who->owner != NULL)
    {
      g_autofree char *owner = nearby_web_html_text (who->owner);

      g_string_append_printf (out, "<h1>Branches %s shares from %s</h1>\n", owner, shown_host);
    }
  else
    g_string_append_printf (out, "<h1>Branches shared from %s</h1>\n", shown_host);
  append_identity (out, who);
  g_string_append (out, "<p class=\"lan\"><a href=\"/nearby\">Everything advertised on this "
                        "network</a>, by project</p>\n");
  if (branches->len == 0)
    g_string_append (out, "<p>No branch is advertised yet. In a repository under the served "
                          "directory, run <code>git nearby advertise</code>.</p>\n");
  else
    g_string_append (out,
                     "<table>\n<tr><th>Name</th><th>Branch</th><th>Head</th><th>Clone</th></tr>\n");
  for (guint i = 0; i < branches->len; i++)
    {
      NearbyBranch *branch = branches->pdata[i];
      g_auto (BranchInfo) info = { 0 };
      g_autofree char *name = nearby_web_html_text (branch->name);
      g_autofree char *branch_name = nearby_web_html_text (branch->branch);
      g_autofree char *url = NULL;
      g_autofree char *page = NULL;
      g_autofree char *head = NULL;
      g_autofree char *line = nearby_clone_line (branch->name, who->key);
      g_autofree char *clone = nearby_web_html_text (line);

      if (!branch_info (branch, base_url, &info))
        continue;
      url = nearby_web_html_text (info.url);
      page = nearby_web_html_text (info.page);
      if (info.unborn)
        head = g_strdup ("<em>no commits yet</em>");
      else
        {
          g_autofree char *subject = nearby_web_html_text (info.subject);
          g_autofree char *when = nearby_web_age (info.time);

          head = g_strdup_printf ("<code>%.7s</code> %s <span class=\"age\">%s</span>", info.hex,
                                  subject, when);
        }
      g_string_append_printf (out,
                              "<tr><td><a href=\"%s\">%s</a></td><td>%s</td><td>%s</td>"
                              "<td><code class=\"clone\">%s</code><br>"
                              "<code>git clone %s</code></td></tr>\n",
                              page, name, branch_name, head, clone, url);
    }
  if (branches->len > 0)
    g_string_append (out, "</table>\n");
  return nearby_web_page_end (out);
}

/* The server's key and owner, members of each object as in `git nearby
 * browse --json`. */
static void
add_identity (JsonBuilder *builder, const NearbyWebIdentity *who)
{
  nearby_json_add_string (builder, "key", who->key);
  nearby_json_add_string (builder, "owner", who->owner);
}

GBytes *
nearby_web_index_json (NearbyCatalog *catalog, const NearbyWebIdentity *who, const char *base_url)
{
  g_autoptr (GPtrArray) branches = nearby_catalog_list (catalog);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  GString *out = g_string_new (NULL);
  guint n = 0;

  /* A list of branches, as it always was; the server's key and owner are
   * fields of each, so that no tool reading the list breaks. Written a
   * branch at a time: a tree of 100,000 of them took 200 MB. */
  for (guint i = 0; i < branches->len; i++)
    {
      NearbyBranch *branch = branches->pdata[i];
      g_auto (BranchInfo) info = { 0 };
      g_autoptr (JsonNode) node = NULL;

      if (!branch_info (branch, base_url, &info))
        continue;
      json_builder_reset (builder);
      json_builder_begin_object (builder);
      nearby_json_add_string (builder, "name", branch->name);
      nearby_json_add_string (builder, "branch", branch->branch);
      nearby_json_add_string (builder, "url", info.url);
      nearby_json_add_string (builder, "head", info.unborn ? NULL : info.hex);
      nearby_json_add_string (builder, "subject", info.unborn ? NULL : info.subject);
      json_builder_set_member_name (builder, "time");
      if (info.unborn)
        json_builder_add_null_value (builder);
      else
        json_builder_add_int_value (builder, info.time);
      add_identity (builder, who);
      json_builder_end_object (builder);
      node = json_builder_get_root (builder);
      nearby_json_list_add (out, n++, node);
    }
  nearby_json_list_end (out, n);
  return g_string_free_to_bytes (out);
}

/* One commit of a branch page, its text valid UTF-8. */
typedef struct
{
  char hex[GIT_OID_HEXSZ + 1];
  char *subject;
  char *author;
  gint64 time;
} RecentCommit;

static void
recent_commit_clear (gpointer data)
{
  RecentCommit *c = data;

  g_free (c->subject);
  g_free (c->author);
}

/* The newest RECENT_COMMITS commits from @hex, as git log lists them: no
 * commit before its children. */
static GArray *
recent_commits (NearbyBranch *branch, const char *hex)
{
  GArray *commits = g_array_new (FALSE, TRUE, sizeof (RecentCommit));
  g_autoptr (git_revwalk) walk = NULL;
  git_oid oid;

  g_array_set_clear_func (commits, recent_commit_clear);
  if (git_revwalk_new (&walk, nearby_branch_git (branch)) != 0 || git_oid_fromstr (&oid, hex) != 0
      || git_revwalk_push (walk, &oid) != 0)
    return commits;
  git_revwalk_sorting (walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  while (commits->len < RECENT_COMMITS && git_revwalk_next (&oid, walk) == 0)
    {
      g_autoptr (git_commit) commit = NULL;
      RecentCommit c = { 0 };

      if (git_commit_lookup (&commit, nearby_branch_git (branch), &oid) < 0)
        break;
      git_oid_tostr (c.hex, sizeof c.hex, &oid);
      c.subject = nearby_commit_text_utf8 (commit, git_commit_summary (commit));
      c.author = nearby_commit_text_utf8 (commit, git_commit_author (commit)->name);
      c.time = git_commit_time (commit);
      g_array_append_val (commits, c);
    }
  return commits;
}

GBytes *
nearby_web_branch_html (NearbyBranch *branch, const NearbyWebIdentity *who, const char *base_url)
{
  g_auto (BranchInfo) info = { 0 };
  g_autofree char *name = nearby_web_html_text (branch->name);
  g_autofree char *branch_name = nearby_web_html_text (branch->branch);
  g_autofree char *line = nearby_clone_line (branch->name, who->key);
  g_autofree char *clone = nearby_web_html_text (line);
  g_autofree char *url = NULL;
  GString *out;

  if (!branch_info (branch, base_url, &info))
    return NULL;
  url = nearby_web_html_text (info.url);
  out = g_string_new (NULL);
  nearby_web_page_start (out, branch->name);
  g_string_append_printf (out, "<p><a href=\"/\">All branches</a></p>\n<h1>%s</h1>\n", name);
  append_identity (out, who);
  g_string_append_printf (out,
                          "<p>Branch <code>%s</code></p>\n<pre class=\"clone\">%s</pre>\n"
                          "<p>Without mDNS, or with any git client:</p>\n<pre>git clone %s</pre>\n",
                          branch_name, clone, url);
  if (info.unborn)
    g_string_append (out, "<p>No commits yet.</p>\n");
  else
    {
      g_autoptr (GArray) commits = recent_commits (branch, info.hex);
      g_autofree char *path = nearby_name_to_path (branch->name);
      g_autofree char *href = nearby_web_html_text (path);

      g_string_append (out, "<h2>Recent commits</h2>\n<table>\n");
      for (guint i = 0; i < commits->len; i++)
        {
          RecentCommit *c = &g_array_index (commits, RecentCommit, i);
          g_autofree char *subject = nearby_web_html_text (c->subject);
          g_autofree char *author = nearby_web_html_text (c->author);
          g_autofree char *when = nearby_web_age (c->time);

          g_string_append_printf (out,
                                  "<tr><td><a href=\"%s/commit/%s\"><code>%.7s</code></a></td>"
                                  "<td>%s</td><td>%s</td><td class=\"age\">%s</td></tr>\n",
                                  href, c->hex, c->hex, subject, author, when);
        }
      g_string_append (out, "</table>\n");
    }
  return nearby_web_page_end (out);
}

GBytes *
nearby_web_branch_json (NearbyBranch *branch, const NearbyWebIdentity *who, const char *base_url)
{
  g_auto (BranchInfo) info = { 0 };
  g_autofree char *line = nearby_clone_line (branch->name, who->key);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  if (!branch_info (branch, base_url, &info))
    return NULL;
  json_builder_begin_object (builder);
  nearby_json_add_string (builder, "name", branch->name);
  nearby_json_add_string (builder, "branch", branch->branch);
  nearby_json_add_string (builder, "url", info.url);
  nearby_json_add_string (builder, "clone", line);
  add_identity (builder, who);
  nearby_json_add_string (builder, "head", info.unborn ? NULL : info.hex);
  json_builder_set_member_name (builder, "commits");
  json_builder_begin_array (builder);
  if (!info.unborn)
    {
      g_autoptr (GArray) commits = recent_commits (branch, info.hex);

      for (guint i = 0; i < commits->len; i++)
        {
          RecentCommit *c = &g_array_index (commits, RecentCommit, i);

          json_builder_begin_object (builder);
          nearby_json_add_string (builder, "id", c->hex);
          nearby_json_add_string (builder, "subject", c->subject);
          nearby_json_add_string (builder, "author", c->author);
          json_builder_set_member_name (builder, "time");
          json_builder_add_int_value (builder, c->time);
          json_builder_end_object (builder);
        }
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return nearby_json_to_bytes (root);
}

/* ---- a commit page, made in a worker thread ---- */

/* At most this much of a commit's patch is shown. */
#define PATCH_MAX_BYTES (256 * 1024)

void
nearby_web_commit_request_free (NearbyWebCommitRequest *request)
{
  g_free (request->name);
  g_free (request->id);
  g_free (request->key);
  g_free (request->owner);
  g_free (request->base_url);
  g_free (request);
}

/* The patch of @commit against its first parent (or nothing, for a root
 * commit), valid UTF-8, cut at PATCH_MAX_BYTES; *@cut says if it was. */
static char *
commit_patch (git_repository *git, git_commit *commit, gboolean *cut)
{
  g_autoptr (git_commit) parent = NULL;
  g_autoptr (git_tree) tree = NULL;
  g_autoptr (git_tree) parent_tree = NULL;
  g_autoptr (git_diff) diff = NULL;
  git_buf buf = GIT_BUF_INIT;
  GString *out;

  *cut = FALSE;
  if (git_commit_tree (&tree, commit) < 0
      || (git_commit_parentcount (commit) > 0
          && (git_commit_parent (&parent, commit, 0) < 0
              || git_commit_tree (&parent_tree, parent) < 0))
      || git_diff_tree_to_tree (&diff, git, parent_tree, tree, NULL) < 0
      || git_diff_to_buf (&buf, diff, GIT_DIFF_FORMAT_PATCH) < 0)
    return g_strdup ("");
  out = g_string_new_len (buf.ptr, MIN (buf.size, PATCH_MAX_BYTES));
  *cut = buf.size > PATCH_MAX_BYTES;
  git_buf_dispose (&buf);
  {
    char *valid = g_utf8_make_valid (out->str, out->len);

    g_string_free (out, TRUE);
    return valid;
  }
}

GBytes *
nearby_web_commit_page (git_repository *git, NearbyReach *reach, const git_oid *tip, gpointer data,
                        GError **error)
{
  NearbyWebCommitRequest *request = data;
  g_autoptr (git_commit) commit = NULL;
  g_autofree char *message = NULL;
  g_autofree char *author = NULL;
  g_autofree char *patch = NULL;
  gboolean cut = FALSE;
  git_oid oid;
  GString *out;

  /* The boundary, as for packs: only a commit reachable from the tip, and
   * anything else (another branch's commit, a tree, nothing at all) gets
   * the same "none". */
  if (reach == NULL || !nearby_oid_from_hex (&oid, request->id, strlen (request->id))
      || !(git_oid_equal (&oid, tip) || nearby_reach_contains (reach, &oid))
      || git_commit_lookup (&commit, git, &oid) < 0)
    return NULL;
  message = nearby_commit_text_utf8 (commit, git_commit_message (commit));
  author = nearby_commit_text_utf8 (commit, git_commit_author (commit)->name);
  patch = commit_patch (git, commit, &cut);
  if (request->json)
    {
      g_autoptr (JsonBuilder) builder = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;

      json_builder_begin_object (builder);
      nearby_json_add_string (builder, "id", request->id);
      nearby_json_add_string (builder, "branch", request->name);
      nearby_json_add_string (builder, "author", author);
      json_builder_set_member_name (builder, "time");
      json_builder_add_int_value (builder, git_commit_time (commit));
      json_builder_set_member_name (builder, "parents");
      json_builder_begin_array (builder);
      for (unsigned int p = 0; p < git_commit_parentcount (commit); p++)
        nearby_json_add_string (builder, NULL, git_oid_tostr_s (git_commit_parent_id (commit, p)));
      json_builder_end_array (builder);
      nearby_json_add_string (builder, "message", message);
      nearby_json_add_string (builder, "patch", patch);
      json_builder_set_member_name (builder, "patch_cut");
      json_builder_add_boolean_value (builder, cut);
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      return nearby_json_to_bytes (root);
    }
  {
    g_autofree char *name = nearby_web_html_text (request->name);
    g_autofree char *path = nearby_name_to_path (request->name);
    g_autofree char *href = nearby_web_html_text (path);
    g_autofree char *shown_author = nearby_web_html_text (author);
    g_autofree char *shown_message = nearby_web_html_text (message);
    g_autofree char *shown_patch = nearby_web_html_text (patch);
    g_autofree char *when = nearby_web_age (git_commit_time (commit));
    g_autofree char *title = g_strdup_printf ("%.7s — %s", request->id, request->name);
    NearbyWebIdentity who = { .key = request->key, .owner = request->owner };

    out = g_string_new (NULL);
    nearby_web_page_start (out, title);
    g_string_append_printf (out,
                            "<p><a href=\"%s\">%s</a></p>\n<h1>Commit <code>%.7s</code></h1>\n",
                            href, name, request->id);
    append_identity (out, &who);
    g_string_append_printf (out,
                            "<p><code>%s</code> by %s, <span class=\"age\">%s</span></p>\n"
                            "<pre class=\"message\">%s</pre>\n<pre class=\"patch\">%s</pre>\n",
                            request->id, shown_author, when, shown_message, shown_patch);
    if (cut)
      g_string_append (out, "<p><em>The patch is cut at 256 KiB; fetch the branch for the "
                            "rest.</em></p>\n");
    return nearby_web_page_end (out);
  }
}
