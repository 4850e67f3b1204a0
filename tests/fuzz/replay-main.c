/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main() for a fuzz target built without libFuzzer: feeds every file named on the command
 * line, and every file in every directory named, to LLVMFuzzerTestOneInput() once, in
 * name order.  ctest runs each target over its committed corpus this way, in the gcc build
 * and the sanitizer build alike; a failed check aborts, so the test fails.
 *
 *   fuzz-wire tests/fuzz/corpus/fuzz-wire      fuzz-wire crash-1234abcd
 *
 * Exits 1 when no input was found (a missing corpus is a broken test, not a pass).
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz-common.h"

static void run_file(const char *path)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &data, &len, &error)) {
		fprintf(stderr, "replay: %s\n", error->message);
		exit(1);
	}
	if (g_getenv("TPMRM_FUZZ_VERBOSE"))
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, (size_t)len);
	/* An exact-size heap copy, so that ASan sees a read past the input's end. */
	g_autofree uint8_t *copy = g_memdup2(data, len);
	LLVMFuzzerTestOneInput(copy, len);
}

static gint compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The files in @dir, sorted; dot files (libFuzzer's .state and the like) skipped. */
static GPtrArray *list_dir(const char *dir)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
	GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
	const char *name;

	if (!d) {
		fprintf(stderr, "replay: %s\n", error->message);
		exit(1);
	}
	while ((name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(dir, name, NULL);

		if (name[0] != '.' && g_file_test(path, G_FILE_TEST_IS_REGULAR))
			g_ptr_array_add(files, g_steal_pointer(&path));
	}
	g_ptr_array_sort(files, compare_names);
	return files;
}

int main(int argc, char **argv)
{
	unsigned int n = 0;

	for (int i = 1; i < argc; i++) {
		if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
			g_autoptr(GPtrArray) files = list_dir(argv[i]);

			for (guint j = 0; j < files->len; j++, n++)
				run_file(files->pdata[j]);
		} else {
			run_file(argv[i]);
			n++;
		}
	}
	if (n == 0) {
		fprintf(stderr, "replay: no inputs (usage: %s FILE|DIR...)\n", argv[0]);
		return 1;
	}
	printf("replay: %u inputs, no failure\n", n);
	return 0;
}
