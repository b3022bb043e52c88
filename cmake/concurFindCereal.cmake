# Finds cereal (header-only; Debian's libcereal-dev) and makes the target cereal::cereal, for
# concur's own build and for the installed package's concurConfig.cmake alike: a cereal::cereal
# the project already has, else cereal's CMake package, else its headers wherever find_path sees
# them. Sets concur_CEREAL_FOUND. A target made here is global, so that a project that pulls
# concur in through add_subdirectory() or FetchContent can link concur::concur from any directory.
if(TARGET cereal::cereal)
  set(concur_CEREAL_FOUND TRUE)
else()
  find_package(cereal CONFIG QUIET)
  if(TARGET cereal::cereal)
    get_target_property(_concur_cereal_global cereal::cereal IMPORTED_GLOBAL)
    if(NOT _concur_cereal_global)
      set_target_properties(cereal::cereal PROPERTIES IMPORTED_GLOBAL TRUE)
    endif()
    unset(_concur_cereal_global)
    set(concur_CEREAL_FOUND TRUE)
  else()
    find_path(concur_CEREAL_INCLUDE_DIR cereal/cereal.hpp)
    if(concur_CEREAL_INCLUDE_DIR)
      add_library(cereal::cereal INTERFACE IMPORTED GLOBAL)
      set_target_properties(cereal::cereal PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${concur_CEREAL_INCLUDE_DIR}")
      set(concur_CEREAL_FOUND TRUE)
    else()
      set(concur_CEREAL_FOUND FALSE)
    endif()
  endif()
endif()
