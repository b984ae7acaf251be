// The translation unit that carries a precompiled-header group (cmake/pch.cmake).
