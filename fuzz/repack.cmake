# cmake -DDIR=<seeds> -DH5REPACK=<h5repack> -P repack.cmake: rewrites every DIR/*/*.h5 with contiguous
# layout (fuzz/CMakeLists.txt: small seeds, same content).
file(GLOB files ${DIR}/*/*.h5)
foreach(f IN LISTS files)
  execute_process(COMMAND ${H5REPACK} -l CONTI ${f} ${f}.conti RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "h5repack ${f} failed (${rc})")
  endif()
  file(RENAME ${f}.conti ${f})
endforeach()
