/** `express4` is `express@4` installed under an alias (dev only), typed like the installed express. */
declare module 'express4' {
  import express from 'express';
  export default express;
}
