# SPDX-License-Identifier: MIT
# embed.cmake - writes file IN into the C source OUT as a const byte array
# NAME (with a trailing NUL) and its length NAME_len, for pages larder serves:
#   cmake -DIN=page.html -DOUT=page.c -DNAME=symbol -P embed.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REPEAT "[0-9a-f]" 32 row)
string(REGEX REPLACE "(${row})" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}.tmp"
     "/* Generated from ${IN} by cmake/embed.cmake: do not edit. */\n"
     "#include <stddef.h>\n\n"
     "const unsigned char ${NAME}[] = {\n${bytes}0x00\n};\n"
     "const size_t ${NAME}_len = ${len};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
