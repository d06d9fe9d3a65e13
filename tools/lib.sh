# Shared by the tools/*.sh scripts (sourced, not run).

# copy_source_tree DEST: the committed tree (git archive HEAD) into DEST, or
# with CYLOSS_FROM_WORKTREE=1 the work tree's tracked and untracked-but-not-
# ignored files as they are (to try uncommitted work); either way no build/,
# no *.so, no generated stubs.
copy_source_tree() {
    mkdir -p "$1"
    if [ -n "${CYLOSS_FROM_WORKTREE:-}" ]; then
        (cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
            | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
            | xargs -0 cp --parents -t "$1")
    else
        git -C "$REPO" archive HEAD | tar -x -C "$1"
    fi
}
