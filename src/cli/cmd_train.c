/* ridepred train: NOT IMPLEMENTED YET (placeholder until its issue lands). */
#include <stdio.h>

#include "cli/cli.h"

int rp_cmd_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "ridepred train: not implemented yet\n");
    return RP_EXIT_FAILURE;
}
