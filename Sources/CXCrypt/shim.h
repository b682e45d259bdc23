// libxcrypt (Debian libcrypt-dev): bcrypt for auth passwords, as etcd uses golang.org/x/crypto/bcrypt.
#include <crypt.h>
