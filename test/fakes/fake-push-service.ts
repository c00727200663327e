// The fake lives in src/ because demo mode runs it inside the server; tests import it from here.
export * from '../../src/demo/fake-push-service';
