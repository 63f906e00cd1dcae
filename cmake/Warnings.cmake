function(popfs_set_warnings target)
  target_compile_options(${target} INTERFACE
    -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual)
  if(POPFS_WARNINGS_AS_ERRORS)
    target_compile_options(${target} INTERFACE -Werror)
  endif()
endfunction()
