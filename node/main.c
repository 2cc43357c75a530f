/* placeholder until the CLI lands in this same change series */
int main(void) { return 0; }
