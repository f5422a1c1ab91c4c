// Lets Debian bookworm's civetweb 1.15 speak TLS with OpenSSL 3.
//
// civetweb loads OpenSSL at run time: dlopen("libssl.so"), then dlsym() of every function it
// uses, and gives up on TLS when one is missing. It was built for the OpenSSL 1.1 API and looks
// up SSL_get_peer_certificate, which OpenSSL 3 renamed SSL_get1_peer_certificate (the old name is
// only a macro now). This library's SONAME is "libssl.so": once wsm-exporter has dlopen()ed it,
// civetweb's dlopen("libssl.so") finds it among the loaded objects by that name, and dlsym()
// through its handle finds the old name here and every other function in libssl.so.3, which it
// depends on. Nothing else is defined here.

extern "C" {

struct ssl_st;
struct x509_st;

x509_st* SSL_get1_peer_certificate(const ssl_st* ssl);

x509_st* SSL_get_peer_certificate(const ssl_st* ssl) { return SSL_get1_peer_certificate(ssl); }

}
