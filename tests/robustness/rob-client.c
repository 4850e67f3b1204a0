/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rob-client: the TPM clients of the robustness tests (the scripts in tests/robustness).
 *
 *   rob-client load NODE CLIENTS COMMANDS [--tolerant] [--seed N] [--alarm S] [--seconds S]
 *   rob-client isolation NODE SPACES STEPS SEED CONTROL_SOCKET
 *   rob-client nv NODE define|write|loop|read|lockout|persistent ...
 *   rob-client expect NODE OUTCOME...
 *
 * Exit status: 0 when everything was as expected, 1 otherwise (with a message), 2 for a
 * usage error; `nv loop` ends with 3 at its first failed write.
 */
#include <stdio.h>
#include <string.h>

#include "rob-client.h"

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*main)(int argc, char **argv);
	} cmds[] = {
		{ "load", rob_load_main },
		{ "isolation", rob_isolation_main },
		{ "nv", rob_nv_main },
		{ "expect", rob_expect_main },
	};

	for (size_t i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].main(argc - 1, argv + 1);
	fprintf(stderr, "usage: rob-client load|isolation|nv|expect ... (see rob-client.c)\n");
	return 2;
}
