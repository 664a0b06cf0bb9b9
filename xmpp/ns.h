/* ns.h — every XML namespace string the core and modules use, defined once:
 * the core's, and every one more than one module (or the core and a module)
 * uses.  A namespace only one module uses may stay in that module, once. */
#ifndef PL_NS_H
#define PL_NS_H

#define PL_NS_STREAMS "http://etherx.jabber.org/streams"
#define PL_NS_CLIENT "jabber:client"
#define PL_NS_SERVER "jabber:server"
#define PL_NS_COMPONENT "jabber:component:accept"
#define PL_NS_XML "http://www.w3.org/XML/1998/namespace"
/* Bound to the xmlns prefix by Namespaces in XML; no element may be in it. */
#define PL_NS_XMLNS "http://www.w3.org/2000/xmlns/"
#define PL_NS_STREAM_ERRORS "urn:ietf:params:xml:ns:xmpp-streams"
#define PL_NS_STANZA_ERRORS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define PL_NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define PL_NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define PL_NS_SASL2 "urn:xmpp:sasl:2"
#define PL_NS_BIND2 "urn:xmpp:bind:0"
#define PL_NS_FAST "urn:xmpp:fast:0"
#define PL_NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define PL_NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define PL_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define PL_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define PL_NS_PING "urn:xmpp:ping"
#define PL_NS_VERSION "jabber:iq:version"
#define PL_NS_TIME "urn:xmpp:time"
#define PL_NS_REGISTER "jabber:iq:register"
#define PL_NS_REGISTER_FEATURE "http://jabber.org/features/iq-register"
#define PL_NS_DATA_FORMS "jabber:x:data"
#define PL_NS_DATA_VALIDATE "http://jabber.org/protocol/xdata-validate"
#define PL_NS_CAPS "http://jabber.org/protocol/caps"
#define PL_NS_DELAY "urn:xmpp:delay"
#define PL_NS_SID "urn:xmpp:sid:0"
#define PL_NS_SM "urn:xmpp:sm:3"
#define PL_NS_CSI "urn:xmpp:csi:0"

/* Used by several modules (or by the core and a module). */
#define PL_NS_ROSTER "jabber:iq:roster"
#define PL_NS_ROSTER_VER "urn:xmpp:features:rosterver"
#define PL_NS_PRIVATE "jabber:iq:private"
#define PL_NS_VCARD "vcard-temp"
#define PL_NS_RSM "http://jabber.org/protocol/rsm"
#define PL_NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define PL_NS_PUBSUB_PUBLISH_OPTIONS "http://jabber.org/protocol/pubsub#publish-options"
#define PL_NS_MAM "urn:xmpp:mam:2"
#define PL_NS_FORWARD "urn:xmpp:forward:0"
#define PL_NS_CARBONS "urn:xmpp:carbons:2"
#define PL_NS_HINTS "urn:xmpp:hints"
#define PL_NS_RECEIPTS "urn:xmpp:receipts"
#define PL_NS_CHAT_MARKERS "urn:xmpp:chat-markers:0"
#define PL_NS_CHATSTATES "http://jabber.org/protocol/chatstates"
#define PL_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define PL_NS_CONFERENCE "jabber:x:conference"

#endif
