/* git-nearby: a served repository watched — its config and refs (the
 * catalog's "changed" and "tips-changed" signals) and the root commit of
 * its tips. */
#pragma once

#include "catalog.h"

G_BEGIN_DECLS

/* The root commit reached by first parents from @tip, remembered per
 * repository. Found on the spot when @tip is a few commits on top of a tip
 * whose root is known (or the history is short); otherwise FALSE for now:
 * it is looked for in a worker thread, and the catalog emits "changed"
 * once it is known. FALSE in a shallow repository. */
gboolean nearby_branch_root_commit (NearbyBranch *branch, const git_oid *tip, git_oid *root);

G_END_DECLS
