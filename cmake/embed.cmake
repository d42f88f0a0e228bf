# Turns a file into a C header holding its bytes, at build time:
#   cmake -DIN=file -DOUT=header -DNAME=symbol -P cmake/embed.cmake
# The header defines `static const unsigned char NAME[]` (the bytes and a
# NUL after them, not counted) and `static const size_t NAME_len`.  Used for
# src/monitor/dashboard.html (CMakeLists.txt); the header is written under
# the build directory, never committed.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR n "${nhex} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
# Lines of 16 bytes (5 characters each), for compilers and readers.
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
  "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n"
  "#include <stddef.h>\n"
  "static const unsigned char ${NAME}[] = {\n${bytes}0x00};\n"
  "static const size_t ${NAME}_len = ${n};\n")
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
