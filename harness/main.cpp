#include <cstdio>
int main() { std::puts("dqbench: skeleton"); return 0; }
