/* ridepred lambda: NOT IMPLEMENTED YET (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/cli.h"

int rp_cmd_lambda(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "ridepred lambda: not implemented yet\n");
    return RP_EXIT_FAILURE;
}
